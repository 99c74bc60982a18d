using System.Net;
using Microsoft.Extensions.Time.Testing;
using Sidekick.Core;
using Sidekick.Core.Config;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Proxy;

/// <summary>After a burst, an idle sidekick gives its pools and heap back (resident memory at rest).</summary>
public class IdleMemoryTests
{
    private static readonly TimeSpan Prune = TimeSpan.FromSeconds(5);

    [Test]
    public async Task MemoryIsReturned_OnceAWholePrunePeriodPassesWithoutTraffic_AndOnlyOncePerBurst()
    {
        await using var backend = FakeBackend.Ok("hi");
        var time = new FakeTimeProvider();
        var options = new SidekickOptions
        {
            Address = "127.0.0.1:0",
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            HealthDuration = TimeSpan.FromHours(1), // one probe only: advancing the clock starts no other
            Sites = [new SiteOptions(1, backend.Url, [new BackendOptions(backend.Url, new Uri(backend.Url), new Uri(backend.Url + "/health"))])],
        };
        await using var server = ProxyServer.Start(options, time, new Random(1), probe: null);
        await server.FirstHealthRound.WaitAsync(TimeSpan.FromSeconds(10));

        time.Advance(Prune); // the first look: start-up counts as activity
        server.MemoryReturns.ShouldBe(0);
        time.Advance(Prune); // a whole period without traffic
        server.MemoryReturns.ShouldBe(1);
        time.Advance(Prune);
        time.Advance(Prune);
        server.MemoryReturns.ShouldBe(1, "idle stays idle: no collection per period");

        using (var client = new RawClient(server.LocalEndPoint.Port))
        {
            await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            (await client.ReadResponseAsync()).BodyText.ShouldBe("hi");
        }

        var b = server.Table.Sites[0].Backends[0];
        for (var i = 0; i < 500 && b.Requests == 0; i++)
        {
            await Task.Delay(10); // the request is counted as it ends, after the client has the response (bounded: 5 s)
        }

        time.Advance(Prune); // sees the request
        server.MemoryReturns.ShouldBe(1);
        time.Advance(Prune);
        server.MemoryReturns.ShouldBe(2);
    }
}
