using System.Collections.Immutable;
using System.Net;
using Sidekick.Core;
using Sidekick.Core.Config;

namespace Sidekick.Tests.Support;

/// <summary>An in-process proxy on 127.0.0.1:0 in front of the given sites.</summary>
internal sealed class ProxyUnderTest : IAsyncDisposable
{
    private ProxyUnderTest(ProxyServer server) => Server = server;

    public ProxyServer Server { get; }

    public int Port => Server.LocalEndPoint.Port;

    public static ProxyUnderTest Start(params string[][] sites) => Start(o => o, sites);

    /// <summary>
    /// A server that answers 200 to everything: the health URL of every test backend points at it, so probes
    /// never touch the scripted fake backends (as --health-port would place them elsewhere).
    /// </summary>
    private static readonly Lazy<FakeBackend> HealthServer = new(() => FakeBackend.Ok("ok"));

    public static ProxyUnderTest Start(Func<SidekickOptions, SidekickOptions> configure, params string[][] sites) =>
        Start(configure, TimeProvider.System, sites);

    /// <summary>A server on <paramref name="time"/> (a provider that watches the timers the server makes, say).</summary>
    public static ProxyUnderTest Start(Func<SidekickOptions, SidekickOptions> configure, TimeProvider time, params string[][] sites)
    {
        var health = HealthServer.Value.Url + "/health";
        var siteOptions = sites.Select((urls, i) => new SiteOptions(i + 1, string.Join(',', urls),
            [.. urls.Select(u => new BackendOptions(u, new Uri(u), new Uri(health)))])).ToImmutableArray();
        var options = configure(new SidekickOptions
        {
            Address = "127.0.0.1:0",
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            Sites = siteOptions,
        });
        var server = ProxyServer.Start(options, time, Random.Shared, probe: null);
        server.FirstHealthRound.Wait(TimeSpan.FromSeconds(10)).ShouldBeTrue("first health round");

        // Every backend's first probe too (bounded: 10 s): a test that fails one site over to the next needs the next
        // one's state known, not still pending.
        for (var i = 0; i < 1000 && !server.Table.Sites.All(s => s.Backends.All(b => b.Probed)); i++)
        {
            Thread.Sleep(10);
        }

        return new ProxyUnderTest(server);
    }

    public RawClient Connect() => new(Port);

    /// <summary>
    /// Waits (bounded: 5 s) until no request is in flight to any backend. A client has its response before the
    /// proxy ends the request and counts it, so a test reads counters or scrapes metrics only after this.
    /// </summary>
    public async Task SettledAsync()
    {
        bool Busy() => Server.Table.Sites.Any(s => s.Backends.Any(b => b.InFlight != 0));
        for (var i = 0; i < 500 && Busy(); i++)
        {
            await Task.Delay(10);
        }

        Busy().ShouldBeFalse("requests still in flight after 5 s");
    }

    public async ValueTask DisposeAsync() => await Server.StopAsync(TimeSpan.FromSeconds(2));
}
