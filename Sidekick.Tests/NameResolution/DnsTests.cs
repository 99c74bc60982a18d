using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Sidekick.Core.NameResolution;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.NameResolution;

/// <summary>A resolver whose answers the test sets; a host without an answer fails as NXDOMAIN.</summary>
internal sealed class FakeResolver : IDnsResolver
{
    private readonly ConcurrentDictionary<string, IPAddress[]> _answers = new(StringComparer.OrdinalIgnoreCase);
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public void Set(string host, params IPAddress[] addresses) => _answers[host] = addresses;

    public void Fail(string host) => _answers.TryRemove(host, out _);

    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        return _answers.TryGetValue(host, out var a)
            ? Task.FromResult(a)
            : Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound));
    }
}

/// <summary>The DNS cache (G2, G5) through the resolver seam.</summary>
public class DnsCacheTests
{
    private static readonly IPAddress A = IPAddress.Parse("10.0.0.1");
    private static readonly IPAddress B = IPAddress.Parse("10.0.0.2");

    [Test]
    public async Task Lookups_are_cached_until_a_refresh_which_picks_up_changes()
    {
        var resolver = new FakeResolver();
        resolver.Set("minio", A);
        using var cache = new DnsCache(resolver, TimeSpan.FromMinutes(10), new FakeTimeProvider());

        (await cache.LookupAsync("minio", default)).ShouldBe([A]);
        resolver.Set("minio", A, B);
        (await cache.LookupAsync("minio", default)).ShouldBe([A]);
        resolver.Calls.ShouldBe(1);

        await cache.RefreshAsync();

        (await cache.LookupAsync("minio", default)).ShouldBe([A, B]);
        resolver.Set("minio", B);
        await cache.RefreshAsync();
        (await cache.LookupAsync("minio", default)).ShouldBe([B]);
    }

    [Test]
    public async Task A_failed_refresh_keeps_the_old_addresses_and_a_failed_first_lookup_is_not_cached()
    {
        var resolver = new FakeResolver();
        resolver.Set("minio", A);
        using var cache = new DnsCache(resolver, TimeSpan.FromMinutes(10), new FakeTimeProvider());
        await cache.LookupAsync("minio", default);

        resolver.Fail("minio");
        await cache.RefreshAsync();
        (await cache.LookupAsync("minio", default)).ShouldBe([A]);

        await Should.ThrowAsync<SocketException>(async () => await cache.LookupAsync("other", default));
        resolver.Set("other", B);
        (await cache.LookupAsync("other", default)).ShouldBe([B]);
    }

    [Test]
    public async Task Names_unused_since_the_last_refresh_are_evicted_and_the_timer_refreshes()
    {
        var resolver = new FakeResolver();
        resolver.Set("minio", A);
        var time = new FakeTimeProvider();
        using var cache = new DnsCache(resolver, TimeSpan.FromMinutes(10), time);
        await cache.LookupAsync("minio", default);

        resolver.Set("minio", B);
        time.Advance(TimeSpan.FromMinutes(10)); // refresh: used, so re-resolved
        for (var i = 0; i < 100 && resolver.Calls < 2; i++)
        {
            await Task.Delay(10);
        }

        resolver.Calls.ShouldBe(2);
        await cache.RefreshAsync(); // not used since: evicted
        cache.Count.ShouldBe(0);
    }

    [Test]
    public async Task A_connect_failure_tries_the_next_address()
    {
        await using var backend = FakeBackend.Ok("second address");
        var resolver = new FakeResolver();
        // 127.0.0.2 is loopback but nothing listens there on this port: refused, then 127.0.0.1 answers.
        resolver.Set("multi.test", IPAddress.Parse("127.0.0.2"), IPAddress.Loopback);
        await using var proxy = ProxyUnderTest.Start(o => o with { DnsResolver = resolver }, [$"http://multi.test:{backend.Port}"]);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        (await client.GetStringAsync($"http://127.0.0.1:{proxy.Port}/x")).ShouldBe("second address");
    }
}

/// <summary>--rr-dns-mode (G6): one backend per address, re-resolved, added and drained.</summary>
public class RoundRobinDnsTests
{
    [Test]
    public async Task Addresses_become_backends_which_are_added_and_drained_on_re_resolution()
    {
        await using var backend = FakeBackend.Ok("rr");
        var resolver = new FakeResolver();
        resolver.Set("svc.test", IPAddress.Loopback);
        var url = $"http://svc.test:{backend.Port}";
        await using var proxy = ProxyUnderTest.Start(o => o with { RoundRobinDns = true, DnsResolver = resolver }, [url]);
        var server = proxy.Server;

        server.StartupMessages.ShouldBe([$"RR DNS mode enabled, using {url} as hostname"]);
        Endpoints(server).ShouldBe([$"http://127.0.0.1:{backend.Port}"]);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        (await client.GetStringAsync($"http://127.0.0.1:{proxy.Port}/x")).ShouldBe("rr");
        var first = server.Table.Sites[0].Backends[0];

        resolver.Set("svc.test", IPAddress.Loopback, IPAddress.IPv6Loopback);
        await server.RefreshRoundRobinAsync();
        Endpoints(server).ShouldBe([$"http://127.0.0.1:{backend.Port}", $"http://[::1]:{backend.Port}"]);
        server.Table.Sites[0].Backends[0].ShouldBeSameAs(first); // carried over with its state
        server.Table.Sites[0].Backends[1].Options.Uri.Host.ShouldBe("[::1]");

        resolver.Fail("svc.test");
        await server.RefreshRoundRobinAsync();
        Endpoints(server).Length.ShouldBe(2); // a failed lookup keeps the backends

        resolver.Set("svc.test", IPAddress.IPv6Loopback);
        await server.RefreshRoundRobinAsync();
        Endpoints(server).ShouldBe([$"http://[::1]:{backend.Port}"]);
    }

    [Test]
    public async Task Https_backends_keep_the_host_name_for_sni_and_verification()
    {
        using var dir = new TestCertificates();
        using var ca = TestCertificates.CreateCa();
        using var leaf = TestCertificates.CreateLeaf(ca, extraNames: "svc.test");
        await using var backend = new TlsBackend(leaf);
        var caFile = dir.Write("ca.pem", TestCertificates.CertPem(ca));
        var resolver = new FakeResolver();
        resolver.Set("svc.test", IPAddress.Loopback);
        await using var proxy = ProxyUnderTest.Start(
            o => o with { RoundRobinDns = true, DnsResolver = resolver, CaCertFile = caFile }, [$"https://svc.test:{backend.Port}"]);

        proxy.Server.Table.Sites[0].Backends[0].Endpoint.ShouldBe($"https://127.0.0.1:{backend.Port}");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        (await client.GetStringAsync($"http://127.0.0.1:{proxy.Port}/x")).ShouldStartWith("sni=svc.test;");
    }

    [Test]
    public void An_unresolvable_name_is_fatal_at_start()
    {
        var resolver = new FakeResolver();
        Should.Throw<Sidekick.Core.Config.ConfigException>(() =>
                ProxyUnderTest.Start(o => o with { RoundRobinDns = true, DnsResolver = resolver }, ["http://nowhere.test:9000"]))
            .Message.ShouldBe("unable to lookup host nowhere.test");
    }

    private static ImmutableArray<string> Endpoints(Sidekick.Core.ProxyServer server) =>
        [.. server.Table.Sites[0].Backends.Select(b => b.Endpoint)];
}
