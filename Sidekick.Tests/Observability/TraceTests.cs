using System.Text.Json;
using Sidekick.Cli.Output;
using Sidekick.Core.Config;
using Sidekick.Core.Observability;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Observability;

/// <summary>Trace records (I3-I5): filters, client address, formats.</summary>
public class TraceTests
{
    private static async Task<List<TraceRecord>> DrainAsync(ProxyUnderTest proxy, Func<List<TraceRecord>, bool> enough)
    {
        var got = new List<TraceRecord>();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!enough(got) && DateTime.UtcNow < deadline)
        {
            while (proxy.Server.Traces.TryRead(out var r))
            {
                got.Add(r);
            }

            await Task.Delay(20);
        }

        while (proxy.Server.Traces.TryRead(out var r))
        {
            got.Add(r);
        }

        return got;
    }

    private static FakeBackend Backend() => new(async c =>
    {
        while (await c.ReadRequestAsync() is { } request)
        {
            await c.WriteAsync(request.Contains("/missing", StringComparison.Ordinal)
                ? "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-B: 1\r\n\r\nok");
        }
    });

    private static async Task SendAsync(ProxyUnderTest proxy, string path, string extraHeaders = "")
    {
        using var client = proxy.Connect();
        await client.SendAsync($"GET {path} HTTP/1.1\r\nHost: a\r\n{extraHeaders}\r\n");
        await client.ReadResponseAsync();
    }

    [Test]
    public async Task Trace_Application_RecordsRequestsWithClientAndStatsButNoProbes()
    {
        await using var b = Backend();
        await using var proxy = ProxyUnderTest.Start(o => o with { Trace = TraceMode.Application }, [b.Url]);

        await SendAsync(proxy, "/x?y=1", "X-Forwarded-For: 2001:db8::1, 10.0.0.1\r\n");
        var records = await DrainAsync(proxy, l => l.Count >= 1);

        var r = records.ShouldHaveSingleItem();
        r.Origin.ShouldBe(TraceOrigin.Application);
        r.Endpoint.ShouldBe(b.Url);
        r.Client.ShouldBe("2001:db8::1"); // IPv6 whole (the original cut it at the first ':')
        r.Method.ShouldBe("GET");
        r.Path.ShouldBe("/x");
        r.Query.ShouldBe("y=1");
        r.StatusCode.ShouldBe(200);
        r.StatusMessage.ShouldBe("OK");
        r.Rx.ShouldBeGreaterThan(0);
        r.Tx.ShouldBeGreaterThan(0);
        r.Latency.ShouldBeGreaterThan(TimeSpan.Zero);
        r.TimeToFirstByte.ShouldBeGreaterThan(TimeSpan.Zero);
        r.TimeToFirstByte.ShouldBeLessThanOrEqualTo(r.Latency);
    }

    [Test]
    public async Task Trace_ClientWithoutForwardingHeaders_IsTheRealIpOrPeer()
    {
        await using var b = Backend();
        await using var proxy = ProxyUnderTest.Start(o => o with { Trace = TraceMode.Application }, [b.Url]);

        await SendAsync(proxy, "/", "X-Real-IP: 192.0.2.7\r\n");
        await SendAsync(proxy, "/");
        var records = await DrainAsync(proxy, l => l.Count >= 2);

        // A record is written as its request ends, after the client has the response: the two may come in either order.
        records.Select(r => r.Client).ShouldBe(["192.0.2.7", "127.0.0.1"], ignoreOrder: true);
    }

    [Test]
    public async Task Trace_MinIO_RecordsOnlyHealthProbesEvenForPathsInsideTheHealthUrl()
    {
        await using var b = Backend();
        await using var proxy = ProxyUnderTest.Start(o => o with { Trace = TraceMode.MinIO, HealthDuration = TimeSpan.FromMilliseconds(100) }, [b.Url]);

        await SendAsync(proxy, "/"); // "/" is a substring of every health URL: the original traced it (D8)
        var records = await DrainAsync(proxy, l => l.Count >= 2);

        records.Count.ShouldBeGreaterThanOrEqualTo(1);
        records.ShouldAllBe(r => r.Origin == TraceOrigin.HealthProbe && r.Client == "sidekick" && r.StatusCode == 200);
    }

    [Test]
    public async Task Trace_ErrorsOnly_SkipsSuccesses()
    {
        await using var b = Backend();
        await using var proxy = ProxyUnderTest.Start(o => o with { Trace = TraceMode.Application, ErrorsOnly = true }, [b.Url]);

        await SendAsync(proxy, "/");
        await SendAsync(proxy, "/missing");
        var records = await DrainAsync(proxy, l => l.Count >= 1);

        records.ShouldHaveSingleItem().StatusCode.ShouldBe(404);
    }

    [Test]
    public async Task Trace_StatusCodes_KeepsOnlyThoseStatuses()
    {
        await using var b = Backend();
        await using var proxy = ProxyUnderTest.Start(o => o with { Trace = TraceMode.Application, StatusCodes = [200] }, [b.Url]);

        await SendAsync(proxy, "/missing");
        await SendAsync(proxy, "/ok");
        var records = await DrainAsync(proxy, l => l.Count >= 1);

        records.ShouldHaveSingleItem().Path.ShouldBe("/ok");
    }

    [Test]
    public async Task Trace_Quiet_RecordsNothing()
    {
        await using var b = Backend();
        await using var proxy = ProxyUnderTest.Start(o => o with { Trace = TraceMode.All, Quiet = true }, [b.Url]);

        await SendAsync(proxy, "/");
        proxy.Server.Tracer.Enabled.ShouldBeFalse();
        (await DrainAsync(proxy, _ => false)).ShouldBeEmpty();
    }

    private static TraceRecord Sample() => new()
    {
        Endpoint = "http://minio1:9000",
        Time = new DateTime(2026, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc).AddTicks(9000),
        Client = "10.0.0.1",
        Rx = 93,
        Tx = 1536,
        Latency = TimeSpan.FromTicks(12_345_678),
        TimeToFirstByte = TimeSpan.FromMilliseconds(1),
        StatusCode = 404,
        StatusMessage = "Not Found",
        Method = "GET",
        Path = "/bucket/<obj>",
        Query = "a=1&b=2",
        Host = "minio:9000",
        RequestHeaders = [new("Host", "minio:9000"), new("X-A", "1")],
        ResponseHeaders = [new("Content-Length", "0")],
    };

    [Test]
    public void TraceText_Line_HasTheOriginalLayout()
    {
        var line = TraceFormatter.Text(Sample());

        line.ShouldBe("  LOG: 03:04:05.678 [404 Not Found] http://minio1:9000 GET /bucket/<obj>?a=1&b=2 10.0.0.1        1.234568s    ↑ 93 B ↓ 1.5 KiB");
    }

    [Test]
    public void TraceJson_Line_CarriesEveryFieldInTheOriginalOrder()
    {
        var json = TraceFormatter.Json(Sample());

        json.ShouldContain("\"path\":\"/bucket/<obj>\""); // HTML escaping off
        using var doc = JsonDocument.Parse(json);
        doc.RootElement.EnumerateObject().Select(p => p.Name)
            .ShouldBe(["type", "host", "time", "client", "callStats", "statusCode", "statusMsg", "method", "path", "query"]);
        doc.RootElement.GetProperty("callStats").EnumerateObject().Select(p => p.Name)
            .ShouldBe(["rx", "tx", "latency", "timetofirstbyte", "healthError"]);
        doc.RootElement.GetProperty("type").GetString().ShouldBe("TRACE");
        doc.RootElement.GetProperty("time").GetString().ShouldBe("2026-01-02T03:04:05.6789Z");
        doc.RootElement.GetProperty("callStats").GetProperty("latency").GetInt64().ShouldBe(1_234_567_800);
        doc.RootElement.GetProperty("callStats").GetProperty("timetofirstbyte").GetInt64().ShouldBe(1_000_000);
        doc.RootElement.GetProperty("callStats").GetProperty("healthError").ValueKind.ShouldBe(JsonValueKind.Null);
        doc.RootElement.GetProperty("statusCode").GetInt32().ShouldBe(404);
        doc.RootElement.GetProperty("query").GetString().ShouldBe("a=1&b=2");
    }

    [Test]
    public void TraceDebug_Text_PrefixesEveryLineAndShowsHeaders()
    {
        var text = TraceFormatter.DebugText(Sample());

        var lines = text.Split('\n');
        lines.ShouldAllBe(l => l.StartsWith("DEBUG: http://minio1:9000 ", StringComparison.Ordinal));
        text.ShouldContain("X-A: 1");
        text.ShouldContain("Content-Length: 0");
        text.ShouldContain("[RESPONSE]");
    }

    [Test]
    public void TraceDebug_Json_ParsesWithRequestResponseAndStats()
    {
        using var doc = JsonDocument.Parse(TraceFormatter.DebugJson(Sample()));

        doc.RootElement.GetProperty("type").GetString().ShouldBe("DEBUG");
        doc.RootElement.GetProperty("request").GetProperty("headers").GetProperty("X-A").GetString().ShouldBe("1");
        doc.RootElement.GetProperty("response").GetProperty("statuscode").GetInt32().ShouldBe(404);
        doc.RootElement.GetProperty("stats").GetProperty("rx").GetInt64().ShouldBe(93);
    }

    [Test]
    public void ConsoleMode_IsOnForLogTraceOrRedirectedStdout()
    {
        var o = new SidekickOptions();
        ConsoleMode.IsConsole(o, stdoutRedirected: false).ShouldBeFalse();
        ConsoleMode.IsConsole(o, stdoutRedirected: true).ShouldBeTrue();
        ConsoleMode.IsConsole(o with { Log = true }, stdoutRedirected: false).ShouldBeTrue();
        ConsoleMode.IsConsole(o with { TraceExplicit = true }, stdoutRedirected: false).ShouldBeTrue();
    }

    [Test]
    public void ConsoleText_Iec_MatchesHumanizeIBytes()
    {
        ConsoleText.Iec(512).ShouldBe("512 B");
        ConsoleText.Iec(1536).ShouldBe("1.5 KiB");
        ConsoleText.Iec(10 * 1024 * 1024).ShouldBe("10 MiB");
    }

}
