using System.Net;
using System.Text.Json;
using Sidekick.Cli.Output;
using Sidekick.Core.Health;
using Sidekick.Core.Observability;
using Sidekick.Tests.Support;
using Spectre.Console;

namespace Sidekick.Tests.Observability;

/// <summary>--log lines (I2), the table (I6), --pprof (A21), and the built executable's console mode.</summary>
public class ConsoleOutputTests
{
    private static readonly DateTime At = new(2026, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc);

    [Test]
    public async Task LogText_DownAndUp_UseTheOriginalFormat()
    {
        await using var b = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([b.Url]);
        var backend = proxy.Server.Table.Sites[0].Backends[0];

        LogFormatter.Text(new BackendTransition(backend, false, "connection refused", TimeSpan.Zero), At)
            .ShouldBe($"LOG  : 03:04:05.678  {b.Url} is down: connection refused");
        LogFormatter.Text(new BackendTransition(backend, true, null, TimeSpan.FromMilliseconds(1500)), At)
            .ShouldBe($"LOG  : 03:04:05.678  {b.Url} is up Downtime duration: 1.5s");
    }

    [Test]
    public async Task LogJson_UpWithoutDowntime_OmitsDowntime()
    {
        await using var b = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([b.Url]);
        var backend = proxy.Server.Table.Sites[0].Backends[0];

        using var down = JsonDocument.Parse(LogFormatter.Json(new BackendTransition(backend, false, "boom", TimeSpan.Zero), At));
        down.RootElement.EnumerateObject().Select(p => p.Name).ShouldBe(["Type", "Endpoint", "Error", "Status", "Timestamp"]);
        down.RootElement.GetProperty("Status").GetString().ShouldBe("down");
        down.RootElement.GetProperty("Timestamp").GetString().ShouldBe("2026-01-02T03:04:05.678Z");

        using var up = JsonDocument.Parse(LogFormatter.Json(new BackendTransition(backend, true, null, TimeSpan.FromSeconds(2)), At));
        up.RootElement.GetProperty("Downtime").GetInt64().ShouldBe(2_000_000_000);
        using var upZero = JsonDocument.Parse(LogFormatter.Json(new BackendTransition(backend, true, null, TimeSpan.Zero), At));
        upZero.RootElement.TryGetProperty("Downtime", out _).ShouldBeFalse();
    }

    private static string Render(IReadOnlyList<BackendRow> rows)
    {
        var sw = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(sw),
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 240;
        console.Write(StatusTable.Build(rows));
        return sw.ToString();
    }

    private static BackendRow Row(int site, string host, bool up = true, long calls = 0) =>
        new(site, host, up, calls, 0, 2048, 100, TimeSpan.FromSeconds(3), TimeSpan.Zero, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(7), 2, TimeSpan.FromMilliseconds(5));

    [Test]
    public void Table_LaterSiteLargerThanEarlier_RendersEveryBackendOnItsOwnRow()
    {
        var text = Render([Row(1, "http://a1:9000", calls: 5), Row(2, "http://b1:9000", up: false), Row(2, "http://b2:9000"), Row(2, "http://b3:9000")]);

        foreach (var header in new[] { "SITE", "HOST", "STATUS", "CALLS", "FAILURES", "Rx", "Tx", "TOTAL DOWNTIME", "LAST DOWNTIME", "MIN LATENCY", "MAX LATENCY", "P99 LATENCY", "IN-FLIGHT" })
        {
            text.ShouldContain(header);
        }

        var lines = text.Split('\n');
        lines.Single(l => l.Contains("http://a1:9000", StringComparison.Ordinal)).ShouldContain("1st");
        lines.Single(l => l.Contains("http://b1:9000", StringComparison.Ordinal)).ShouldContain("DOWN");
        lines.Single(l => l.Contains("http://b3:9000", StringComparison.Ordinal)).ShouldContain("2nd");
        lines.Single(l => l.Contains("http://a1:9000", StringComparison.Ordinal)).ShouldContain("2.0 KiB");
    }

    [Test]
    public void Table_LaterSiteSmallerThanEarlier_IsNotBlank()
    {
        var text = Render([Row(1, "http://a1:9000"), Row(1, "http://a2:9000"), Row(1, "http://a3:9000"), Row(2, "http://b1:9000")]);

        text.Split('\n').Count(l => l.Contains("http://", StringComparison.Ordinal)).ShouldBe(4);
        text.ShouldContain("http://b1:9000");
    }

    [Test]
    public async Task Table_SnapshotOfAServer_HasARowPerBackendOfEverySite()
    {
        await using var a = FakeBackend.Ok();
        await using var b = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([a.Url], [b.Url, b.Url + "/2"]);

        var rows = StatusTable.Snapshot(proxy.Server);

        rows.Select(r => r.Site).ShouldBe([1, 2, 2]);
        Render(rows).ShouldContain(b.Url + "/2");
    }

    [Test]
    public async Task Pprof_GcPage_ServesRuntimeFiguresOnItsOwnListener()
    {
        await using var diag = DiagnosticsServer.Start(new IPEndPoint(IPAddress.Loopback, 0));
        using var client = new RawClient(diag.LocalEndPoint.Port);
        await client.SendAsync("GET /.pprof/heap HTTP/1.1\r\nHost: x\r\n\r\n");
        var r = await client.ReadResponseAsync();

        r.Status.ShouldBe(200);
        r.BodyText.ShouldContain("heap_size_bytes ");
        r.BodyText.ShouldContain("pause_time_percent ");
    }

    [Test]
    public async Task Pprof_Index_ListsEverySectionAndUnknownPathsAre404()
    {
        await using var diag = DiagnosticsServer.Start(new IPEndPoint(IPAddress.Loopback, 0));
        diag.Page("/.pprof/")!.ShouldContain("lock_contention_count ");
        diag.Page("/.pprof/")!.ShouldContain("queue_length ");
        diag.Page("/.pprof/")!.ShouldContain("exceptions_thrown ");
        diag.Page("/.pprof/allocs")!.ShouldContain("allocation_rate_bytes_per_second_since_last_read ");
        diag.Page("/.pprof/nope").ShouldBeNull();

        using var client = new RawClient(diag.LocalEndPoint.Port);
        await client.SendAsync("GET /other HTTP/1.1\r\nHost: x\r\n\r\n");
        (await client.ReadResponseAsync()).Status.ShouldBe(404);
    }

    [Test]
    public async Task Executable_JsonTraceApplication_PrintsOneJsonTraceLinePerRequest()
    {
        await using var backend = FakeBackend.Ok();
        using var sidekick = SidekickProcess.Start("--address", "127.0.0.1:0", "--trace", "application", "--json", "--log", backend.Url);
        var port = await sidekick.WaitListeningAsync();
        using (var client = new RawClient(port))
        {
            await client.SendAsync("GET /obj?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
            (await client.ReadResponseAsync()).Status.ShouldBe(200);
        }

        var deadline = DateTime.UtcNow.AddSeconds(10);
        string? line = null;
        while (line is null && DateTime.UtcNow < deadline)
        {
            line = sidekick.Stdout.Split('\n').FirstOrDefault(l => l.Contains("\"type\":\"TRACE\"", StringComparison.Ordinal));
            await Task.Delay(50);
        }

        line.ShouldNotBeNull(sidekick.Stdout);
        using var doc = JsonDocument.Parse(line);
        doc.RootElement.GetProperty("path").GetString().ShouldBe("/obj");
        doc.RootElement.GetProperty("query").GetString().ShouldBe("x=1");
        doc.RootElement.GetProperty("host").GetString().ShouldBe(backend.Url);
        sidekick.Stdout.Split('\n').Count(l => l.Contains("\"type\":\"TRACE\"", StringComparison.Ordinal)).ShouldBe(1); // no probes
    }

    [Test]
    public async Task Executable_LogWithBackendDownFromStart_PrintsADownLine()
    {
        using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var dead = $"http://127.0.0.1:{((IPEndPoint)probe.LocalEndPoint!).Port}";
        probe.Dispose();
        using var sidekick = SidekickProcess.Start("--address", "127.0.0.1:0", "--log", dead);
        await sidekick.WaitListeningAsync();

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!sidekick.Stdout.Contains(" is down: ", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        sidekick.Stdout.ShouldContain($"{dead} is down: ");
        sidekick.Stdout.ShouldMatch(@"LOG  : \d\d:\d\d:\d\d\.\d\d\d  ");
    }
}
