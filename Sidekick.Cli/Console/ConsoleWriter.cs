using System.Threading.Channels;
using Sidekick.Core.Health;
using Sidekick.Core.Observability;

namespace Sidekick.Cli.Output;

/// <summary>
/// The one writer of console mode (I1): trace records from the server's bounded channel and --log lines, each
/// formatted here, off the request path, and written to stdout; flushed whenever both queues are empty.
/// </summary>
internal sealed class ConsoleWriter
{
    private readonly Channel<string> _logs = Channel.CreateBounded<string>(new BoundedChannelOptions(1024)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    private readonly TextWriter _out;
    private readonly bool _json;
    private readonly bool _debug;

    public ConsoleWriter(TextWriter output, bool json, bool debug)
    {
        _out = output;
        _json = json;
        _debug = debug;
    }

    /// <summary>The --log callback: formats now (rare events) and queues; never blocks.</summary>
    public void OnTransition(BackendTransition t) => _logs.Writer.TryWrite(LogFormatter.Format(t, DateTime.UtcNow, _json));

    /// <summary>Writes until <paramref name="traces"/> completes (server stopped) and <see cref="Complete"/> was called.</summary>
    public async Task RunAsync(ChannelReader<TraceRecord>? traces)
    {
        var logs = _logs.Reader;
        var tracesOpen = traces is not null;
        var logsOpen = true;
        while (tracesOpen || logsOpen)
        {
            var wrote = false;
            while (logs.TryRead(out var line))
            {
                await _out.WriteLineAsync(line).ConfigureAwait(false);
                wrote = true;
            }

            while (traces is not null && traces.TryRead(out var record))
            {
                await _out.WriteLineAsync(TraceFormatter.Format(record, _json, _debug)).ConfigureAwait(false);
                wrote = true;
            }

            if (wrote)
            {
                await _out.FlushAsync().ConfigureAwait(false);
                continue;
            }

            var waits = new List<Task<bool>>(2);
            if (logsOpen)
            {
                waits.Add(logs.WaitToReadAsync().AsTask());
            }

            if (tracesOpen)
            {
                waits.Add(traces!.WaitToReadAsync().AsTask());
            }

            var done = await Task.WhenAny(waits).ConfigureAwait(false);
            if (!await done.ConfigureAwait(false))
            {
                // That channel is complete and empty.
                if (logsOpen && done == waits[0])
                {
                    logsOpen = false;
                }
                else
                {
                    tracesOpen = false;
                }
            }
        }

        await _out.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>No more log lines.</summary>
    public void Complete() => _logs.Writer.TryComplete();
}

/// <summary>I1: console mode (log and trace lines on stdout) or the live table.</summary>
internal static class ConsoleMode
{
    /// <summary>Console mode when --log, or --trace given explicitly, or stdout is not a terminal.</summary>
    public static bool IsConsole(Sidekick.Core.Config.SidekickOptions options, bool stdoutRedirected) =>
        options.Log || options.TraceExplicit || stdoutRedirected;
}
