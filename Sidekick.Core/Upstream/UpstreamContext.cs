using Sidekick.Core.NameResolution;
using Sidekick.Core.Tls;

namespace Sidekick.Core.Upstream;

/// <summary>What every upstream pool of a server shares: the DNS cache (G5) and the backend TLS settings (G4).</summary>
/// <param name="Dns">The DNS cache; null resolves every connect with the system resolver (unit tests).</param>
/// <param name="Tls">TLS settings for https backends.</param>
internal sealed record UpstreamContext(DnsCache? Dns, UpstreamTls Tls)
{
    /// <summary>Time allowed for a backend TLS handshake (<see cref="Config.ProxyLimits.UpstreamTlsHandshakeTimeout"/>).</summary>
    public TimeSpan HandshakeTimeout { get; init; } = new Config.ProxyLimits().UpstreamTlsHandshakeTimeout;

    /// <summary>No cache, default TLS.</summary>
    public static UpstreamContext Default { get; } = new(null, UpstreamTls.Default);
}
