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

    public static ProxyUnderTest Start(Func<SidekickOptions, SidekickOptions> configure, params string[][] sites)
    {
        var siteOptions = sites.Select((urls, i) => new SiteOptions(i + 1, string.Join(',', urls),
            [.. urls.Select(u => new BackendOptions(u, new Uri(u), new Uri(u + "/")))])).ToImmutableArray();
        var options = configure(new SidekickOptions
        {
            Address = "127.0.0.1:0",
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            Sites = siteOptions,
        });
        return new ProxyUnderTest(ProxyServer.Start(options));
    }

    public RawClient Connect() => new(Port);

    public async ValueTask DisposeAsync() => await Server.StopAsync(TimeSpan.FromSeconds(2));
}
