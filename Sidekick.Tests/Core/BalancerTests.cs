using System.Collections.Immutable;
using Sidekick.Core.Backends;
using Sidekick.Core.Config;

namespace Sidekick.Tests.Core;

public class BalancerTests
{
    private static Site Site(int n, TimeProvider time)
    {
        var backends = Enumerable.Range(1, n)
            .Select(i => new BackendOptions($"http://b{i}:9000", new Uri($"http://b{i}:9000"), new Uri($"http://b{i}:9000/")))
            .ToImmutableArray();
        var table = BackendTable.Build([new SiteOptions(1, "x", backends)], null, new ProxyLimits(), time);
        foreach (var b in table.Sites[0].Backends)
        {
            b.Record(up: true, null);
        }

        return table.Sites[0];
    }

    [Test]
    public void Least_NeverPicksABusierBackend_WhenAnIdleOneIsOnline()
    {
        var site = Site(3, TimeProvider.System);
        var leases = new List<BackendLease>();
        // b1: 5 in flight and finished long ago; b2: 0 in flight (the original's C2 defect case); b3: 2.
        for (var i = 0; i < 5; i++)
        {
            leases.Add(site.Backends[0].Acquire());
        }

        leases.Add(site.Backends[2].Acquire());
        leases.Add(site.Backends[2].Acquire());
        var balancer = Balancer.Create(HostBalance.Least, new Random(1));

        for (var i = 0; i < 100; i++)
        {
            balancer.Pick(site, null).ShouldBeSameAs(site.Backends[1]);
        }
    }

    [Test]
    public void Least_BreaksTiesAtRandom_SoEveryIdleBackendGetsTraffic()
    {
        var site = Site(4, TimeProvider.System);
        var balancer = Balancer.Create(HostBalance.Least, new Random(7));
        var counts = new Dictionary<Backend, int>();

        for (var i = 0; i < 4000; i++)
        {
            var b = balancer.Pick(site, null)!;
            counts[b] = counts.GetValueOrDefault(b) + 1;
        }

        counts.Count.ShouldBe(4);
        counts.Values.ShouldAllBe(c => c > 800 && c < 1200);
    }

    [Test]
    public void Random_IsUniformWithinTolerance_AndSkipsOfflineAndTried()
    {
        var site = Site(3, TimeProvider.System);
        site.Backends[2].Record(up: false, "down");
        var balancer = Balancer.Create(HostBalance.Random, new Random(3));
        var counts = new int[3];

        for (var i = 0; i < 6000; i++)
        {
            counts[site.Backends.IndexOf(balancer.Pick(site, null)!)]++;
        }

        counts[2].ShouldBe(0);
        counts[0].ShouldBeInRange(2700, 3300);
        balancer.Pick(site, [site.Backends[0]]).ShouldBeSameAs(site.Backends[1]);
        balancer.Pick(site, [site.Backends[0], site.Backends[1]]).ShouldBeNull();
    }

    [Test]
    public void ActiveSite_IsTheFirstWithAnOnlineBackend()
    {
        var time = TimeProvider.System;
        var s1 = new SiteOptions(1, "a", [new BackendOptions("http://a:1", new Uri("http://a:1"), new Uri("http://a:1/"))]);
        var s2 = new SiteOptions(2, "b", [new BackendOptions("http://b:1", new Uri("http://b:1"), new Uri("http://b:1/"))]);
        var table = BackendTable.Build([s1, s2], null, new ProxyLimits(), time);

        table.ActiveSite.ShouldBeNull();
        table.Sites[1].Backends[0].Record(true, null);
        table.ActiveSite!.Number.ShouldBe(2);
        table.Sites[0].Backends[0].Record(true, null);
        table.ActiveSite!.Number.ShouldBe(1);
    }
}
