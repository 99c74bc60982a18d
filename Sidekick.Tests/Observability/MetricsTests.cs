using System.Diagnostics;
using System.Globalization;
using Sidekick.Core.Observability;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Observability;

/// <summary>/.prometheus/metrics (I7, d.8): exposition validity and counter values after known traffic.</summary>
public class MetricsTests
{
    private static int FreePort()
    {
        using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        s.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        return ((System.Net.IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>200 for "/", 404 for "/missing", closes without answering for "/boom".</summary>
    private static FakeBackend Scripted() => new(async c =>
    {
        while (await c.ReadRequestAsync() is { } request)
        {
            if (request.Contains("/boom", StringComparison.Ordinal))
            {
                return; // a clean close (FIN): "EOF", not a transport fault
            }

            await c.WriteAsync(request.Contains("/missing", StringComparison.Ordinal)
                ? "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope"
                : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });

    internal static async Task<TestResponse> RequestAsync(ProxyUnderTest proxy, string request)
    {
        using var client = proxy.Connect();
        await client.SendAsync(request);
        return await client.ReadResponseAsync();
    }

    internal static async Task<string> ScrapeAsync(ProxyUnderTest proxy)
    {
        await proxy.SettledAsync();
        var r = await RequestAsync(proxy, "GET /.prometheus/metrics HTTP/1.1\r\nHost: a\r\n\r\n");
        r.Status.ShouldBe(200);
        return r.BodyText;
    }

    internal static double Value(string exposition, string series)
    {
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        throw new ShouldAssertException($"series {series} not found in:\n{exposition}");
    }

    [Test]
    public async Task Metrics_AfterKnownRequestsOverTwoSites_CountsEveryBackendOfEverySite()
    {
        var dead = $"http://127.0.0.1:{FreePort()}";
        await using var b = Scripted();
        await using var proxy = ProxyUnderTest.Start(o => o with { HealthDuration = TimeSpan.FromMinutes(5) }, [dead], [b.Url]);

        // 1: site 1's only backend refuses: marked down, retried on site 2 within the request.
        (await RequestAsync(proxy, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")).Status.ShouldBe(200);
        (await RequestAsync(proxy, "GET /missing HTTP/1.1\r\nHost: a\r\n\r\n")).Status.ShouldBe(404);
        // 3: the backend drops a DELETE after it was sent: not retryable, sidekick answers 502 itself.
        (await RequestAsync(proxy, "DELETE /boom HTTP/1.1\r\nHost: a\r\n\r\n")).Status.ShouldBe(502);
        (await RequestAsync(proxy, "GET /v1/health HTTP/1.1\r\nHost: a\r\n\r\n")).Status.ShouldBe(200);
        var text = await ScrapeAsync(proxy);
        var d = $"{{endpoint=\"{dead}\"}}";
        var e = $"{{endpoint=\"{b.Url}\"}}";
        Value(text, "sidekick_requests_total" + d).ShouldBe(1);
        Value(text, "sidekick_errors_total" + d).ShouldBe(1);
        Value(text, "sidekick_requests_total" + e).ShouldBe(3); // health and metrics requests not counted
        Value(text, "sidekick_errors_total" + e).ShouldBe(2);
        Value(text, "sidekick_rx_bytes_total" + e).ShouldBeGreaterThan(0);
        Value(text, "sidekick_tx_bytes_total" + e).ShouldBeGreaterThan(0);
        Value(text, "sidekick_health_error_counts" + d).ShouldBe(1); // the passive failure
        Value(text, "sidekick_local_responses_total{code=\"502\"}").ShouldBe(1);
        Value(text, "sidekick_retries_total").ShouldBe(1);
        Value(text, "sidekick_request_duration_seconds_count" + e).ShouldBe(3);
        Value(text, "sidekick_time_to_first_byte_seconds_count" + e).ShouldBe(2); // /boom never answered
        Value(text, $"sidekick_backend_up{{endpoint=\"{dead}\",site=\"1\"}}").ShouldBe(0);
        Value(text, $"sidekick_backend_up{{endpoint=\"{b.Url}\",site=\"2\"}}").ShouldBe(1);
        Value(text, "sidekick_backend_in_flight_requests" + e).ShouldBe(0);
        Value(text, "dotnet_gc_allocated_bytes_total").ShouldBeGreaterThan(0);
        Value(text, "process_resident_memory_bytes").ShouldBeGreaterThan(0);
    }

    [Test]
    public async Task Metrics_AnyMethod_AnsweredLocallyWithTextFormatContentType()
    {
        await using var b = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([b.Url]);

        var r = await RequestAsync(proxy, "POST /.prometheus/metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");

        r.Status.ShouldBe(200);
        r.Header("Content-Type").ShouldBe("text/plain; version=0.0.4");
        r.BodyText.ShouldContain("# HELP sidekick_requests_total Total number of calls in current SideKick server instance\n");
        b.Accepted.ShouldBe(0);
    }

    [Test]
    public async Task Metrics_AfterTraffic_PassesPromtoolCheckMetrics()
    {
        var promtool = FindOnPath("promtool");
        promtool.ShouldNotBeNull("promtool not installed (Debian package prometheus; ./build.sh test installs it)");
        await using var a = FakeBackend.Ok();
        await using var b = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([a.Url, b.Url], [b.Url + "/x"]);
        (await RequestAsync(proxy, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")).Status.ShouldBe(200);
        var text = await ScrapeAsync(proxy);

        var info = new ProcessStartInfo(promtool, ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(info)!;
        await p.StandardInput.WriteAsync(text);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill();
            throw;
        }

        var output = await stdout + await stderr;
        // The original's sidekick_health_error_counts keeps its name (drop-in) although it breaks the _total
        // naming convention: that is the only lint finding allowed.
        var findings = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => !l.StartsWith("sidekick_health_error_counts ", StringComparison.Ordinal)).ToList();
        findings.ShouldBeEmpty(output);
        if (p.ExitCode != 0)
        {
            output.ShouldContain("sidekick_health_error_counts");
        }
    }

    [Test]
    public void Histogram_Record_PlacesObservationsInTheirBucketsAndEstimatesP99()
    {
        var h = new LatencyHistogram();
        for (var i = 0; i < 99; i++)
        {
            h.Record(Stopwatch.Frequency / 1000 * 2); // 2 ms: bucket le=0.0025
        }

        h.Record(Stopwatch.Frequency * 3); // 3 s: bucket le=5

        var buckets = h.SnapshotBuckets();
        buckets[Array.IndexOf(LatencyHistogram.BoundsSeconds, 0.0025)].ShouldBe(99);
        buckets[Array.IndexOf(LatencyHistogram.BoundsSeconds, 5.0)].ShouldBe(1);
        h.Count.ShouldBe(100);
        h.SumSeconds.ShouldBe(3.198, 0.001);
        h.Quantile(0.99).TotalMilliseconds.ShouldBeInRange(1, 2.5);
        h.Quantile(1).TotalSeconds.ShouldBeInRange(2.5, 5);
        h.Min.TotalMilliseconds.ShouldBe(2, 0.01);
        h.Max.TotalSeconds.ShouldBe(3, 0.01);
    }

    [Test]
    public void Histogram_BeyondLastBound_CountsInTheInfBucket()
    {
        var h = new LatencyHistogram();
        h.Record(Stopwatch.Frequency * 31);
        h.SnapshotBuckets()[^1].ShouldBe(1);
        h.Quantile(0.5).TotalSeconds.ShouldBe(30);
    }

    [Test]
    public void Histogram_Record_AllocatesNothing()
    {
        var h = new LatencyHistogram();
        h.Record(1); // JIT and statics first
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            h.Record(i * 1000L);
        }

        (GC.GetAllocatedBytesForCurrentThread() - before).ShouldBe(0);
    }

    [Test]
    public async Task Metrics_AfterReloadWithTheSameSites_KeepCountersAndNewEndpointsStartAtZero()
    {
        await using var a = FakeBackend.Ok();
        await using var b = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([a.Url]);
        (await RequestAsync(proxy, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")).Status.ShouldBe(200);
        var site = proxy.Server.Options.Sites[0];
        var health = site.Backends[0].HealthUrl;

        proxy.Server.Reload([site with { Backends = [site.Backends[0], new Sidekick.Core.Config.BackendOptions(b.Url, new Uri(b.Url), health)] }]);

        var text = await ScrapeAsync(proxy);
        Value(text, $"sidekick_requests_total{{endpoint=\"{a.Url}\"}}").ShouldBe(1);
        Value(text, $"sidekick_request_duration_seconds_count{{endpoint=\"{a.Url}\"}}").ShouldBe(1);
        Value(text, $"sidekick_requests_total{{endpoint=\"{b.Url}\"}}").ShouldBe(0);
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}
