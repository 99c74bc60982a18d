using Sidekick.Core;
using Sidekick.Core.Backends;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Sidekick.Cli.Output;

/// <summary>One row of the table: a snapshot of a backend's counters, taken on the UI timer.</summary>
internal sealed record BackendRow(
    int Site, string Host, bool Up, long Calls, long Failures, long Rx, long Tx, TimeSpan TotalDowntime,
    TimeSpan LastDowntime, TimeSpan MinLatency, TimeSpan MaxLatency, int InFlight, TimeSpan P99)
{
    public static BackendRow From(Backend b) => new(
        b.SiteNumber, b.Endpoint, b.IsOnline, b.Requests, b.Errors, b.RxBytes, b.TxBytes, b.TotalDowntime,
        b.LastDowntime, b.Metrics.Duration.Min, b.Metrics.Duration.Max, b.InFlight, b.Metrics.Duration.Quantile(0.99));
}

/// <summary>
/// The live table (I6): the original's columns plus IN-FLIGHT and P99 LATENCY, one row per backend of every
/// site, whatever the sizes of the sites (the original crashed or went blank, d.11). Rendered from snapshots
/// on a timer, never on the request path.
/// </summary>
internal static class StatusTable
{
    public static IReadOnlyList<BackendRow> Snapshot(ProxyServer server) =>
        [.. server.Table.Sites.SelectMany(s => s.Backends).Select(BackendRow.From)];

    public static Table Build(IReadOnlyList<BackendRow> rows)
    {
        var table = new Table().Border(TableBorder.Rounded);
        string[] columns = ["SITE", "HOST", "STATUS", "CALLS", "FAILURES", "Rx", "Tx", "TOTAL DOWNTIME", "LAST DOWNTIME",
            "MIN LATENCY", "MAX LATENCY", "P99 LATENCY", "IN-FLIGHT"];
        foreach (var c in columns)
        {
            table.AddColumn(new TableColumn(new Markup("[green]" + Markup.Escape(c) + "[/]")) { NoWrap = c == "HOST" });
        }

        foreach (var r in rows)
        {
            table.AddRow(new IRenderable[]
            {
                new Text(ConsoleText.Ordinal(r.Site)),
                new Text(r.Host),
                r.Up ? new Markup("[green]UP[/]") : new Markup("[red]DOWN[/]"),
                new Text(r.Calls.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                new Text(r.Failures.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                new Text(ConsoleText.Iec(r.Rx)),
                new Text(ConsoleText.Iec(r.Tx)),
                new Text(Seconds(r.TotalDowntime)),
                new Text(Seconds(r.LastDowntime)),
                new Text(ConsoleText.Micros(r.MinLatency)),
                new Text(ConsoleText.Micros(r.MaxLatency)),
                new Text(ConsoleText.Micros(r.P99)),
                new Text(r.InFlight.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            });
        }

        return table;
    }

    /// <summary>Downtimes to the second (latencies keep microseconds): a table cell, not a measurement.</summary>
    private static string Seconds(TimeSpan t) => Sidekick.Core.Config.GoDuration.Format(TimeSpan.FromSeconds(Math.Round(t.TotalSeconds)));

    /// <summary>Redraws the table every 500 ms until <paramref name="stop"/> is cancelled.</summary>
    public static async Task RunAsync(IAnsiConsole console, ProxyServer server, CancellationToken stop)
    {
        await console.Live(Build(Snapshot(server))).AutoClear(false).StartAsync(async ctx =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(500), stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                ctx.UpdateTarget(Build(Snapshot(server)));
            }
        }).ConfigureAwait(false);
    }
}
