using System.Collections.Immutable;
using Sidekick.Core.Config;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Proxy;

/// <summary>Sites, failover, passive health, retries and reload over real loopback sockets.</summary>
public class ReloadAndFailoverTests
{
    private static async Task<string> GetAsync(ProxyUnderTest proxy, string path = "/")
    {
        using var client = proxy.Connect();
        await client.SendAsync($"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n");
        var r = await client.ReadResponseAsync();
        return r.Status == 200 ? r.BodyText : $"{r.Status}";
    }

    private static int FreePort()
    {
        using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        s.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        return ((System.Net.IPEndPoint)s.LocalEndPoint!).Port;
    }

    [Test]
    public async Task FirstSite_GetsAllTraffic_WhileItHasAnOnlineBackend()
    {
        await using var a = FakeBackend.Ok("a");
        await using var b = FakeBackend.Ok("b");
        await using var proxy = ProxyUnderTest.Start([a.Url], [b.Url]);

        for (var i = 0; i < 10; i++)
        {
            (await GetAsync(proxy)).ShouldBe("a");
        }

        b.Accepted.ShouldBe(0);
    }

    [Test]
    public async Task ConnectRefused_MarksTheBackendDown_AndTheRequestIsRetriedOnAnother()
    {
        await using var live = FakeBackend.Ok("live");
        var dead = $"http://127.0.0.1:{FreePort()}";
        await using var proxy = ProxyUnderTest.Start([dead, live.Url]);

        for (var i = 0; i < 10; i++)
        {
            (await GetAsync(proxy)).ShouldBe("live");
        }

        var deadBackend = proxy.Server.Table.Sites[0].Backends[0];
        deadBackend.IsOnline.ShouldBeFalse();
        deadBackend.LastError!.ShouldContain("connection refused");
    }

    [Test]
    public async Task WholeSiteFailing_FailsOverToTheNextSite_WithinTheRequest()
    {
        await using var second = FakeBackend.Ok("second");
        await using var proxy = ProxyUnderTest.Start([$"http://127.0.0.1:{FreePort()}", $"http://127.0.0.1:{FreePort()}"], [second.Url]);

        (await GetAsync(proxy)).ShouldBe("second");
        proxy.Server.Table.ActiveSite!.Number.ShouldBe(2);
    }

    [Test]
    public async Task NoSiteOnline_Gives502AllBackendsOffline()
    {
        await using var proxy = ProxyUnderTest.Start([$"http://127.0.0.1:{FreePort()}"]);
        using var client = proxy.Connect();

        await client.SendAsync("GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET /v1/health HTTP/1.1\r\nHost: a\r\n\r\n");
        var first = await client.ReadResponseAsync();
        var health = await client.ReadResponseAsync();

        first.Status.ShouldBe(502);
        health.Status.ShouldBe(502);
        health.BodyText.ShouldContain("all backend servers are offline");
    }

    [Test]
    public async Task KillingABackendUnderConcurrentLoad_LosesNoGet()
    {
        await using var a = FakeBackend.Ok("a");
        var b = FakeBackend.Ok("b");
        await using var proxy = ProxyUnderTest.Start([a.Url, b.Url]);
        var failures = 0;
        var done = 0;

        async Task Worker()
        {
            using var client = proxy.Connect();
            for (var i = 0; i < 50; i++)
            {
                await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
                var r = await client.ReadResponseAsync();
                if (r.Status != 200)
                {
                    Interlocked.Increment(ref failures);
                }

                Interlocked.Increment(ref done);
            }
        }

        var workers = Enumerable.Range(0, 8).Select(_ => Task.Run(Worker)).ToArray();
        while (Volatile.Read(ref done) < 100)
        {
            await Task.Delay(5);
        }

        await b.DisposeAsync(); // listener closed and every connection dropped, mid-load
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));

        failures.ShouldBe(0);
        done.ShouldBe(400);
    }

    [Test]
    public async Task Least_UnderConcurrentLoad_SpreadsEvenly()
    {
        await using var a = FakeBackend.Ok("a");
        await using var b = FakeBackend.Ok("b");
        await using var c = FakeBackend.Ok("c");
        await using var proxy = ProxyUnderTest.Start([a.Url, b.Url, c.Url]);

        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < 50; i++)
            {
                await GetAsync(proxy);
            }
        })));

        await proxy.SettledAsync();
        var counts = proxy.Server.Table.Sites[0].Backends.Select(x => x.Requests).ToArray();
        counts.Sum().ShouldBe(300);
        counts.ShouldAllBe(n => n > 50, string.Join(",", counts));
    }

    [Test]
    public async Task Reload_KeepsUnchangedBackendsAndTheirCounters_AndAddsNewOnes()
    {
        await using var a = FakeBackend.Ok("a");
        await using var b = FakeBackend.Ok("b");
        await using var proxy = ProxyUnderTest.Start([a.Url]);
        for (var i = 0; i < 3; i++)
        {
            await GetAsync(proxy);
        }

        await proxy.SettledAsync();
        var before = proxy.Server.Table.Sites[0].Backends[0];
        var sites = proxy.Server.Options.Sites;
        var health = before.Options.HealthUrl;
        var added = sites[0] with
        {
            Backends = [.. sites[0].Backends, new BackendOptions(b.Url, new Uri(b.Url), health)],
        };

        proxy.Server.Reload([added]);
        await proxy.Server.FirstHealthRound.WaitAsync(TimeSpan.FromSeconds(10));

        var after = proxy.Server.Table.Sites[0].Backends;
        after.Length.ShouldBe(2);
        after[0].ShouldBeSameAs(before);
        after[0].Requests.ShouldBe(3);
        after[0].IsOnline.ShouldBeTrue();
    }
}
