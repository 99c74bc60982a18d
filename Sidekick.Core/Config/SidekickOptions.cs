using System.Collections.Immutable;
using System.Net;

namespace Sidekick.Core.Config;

/// <summary>How a backend is chosen among the online backends of the active site (A25, C2, C3).</summary>
public enum HostBalance
{
    /// <summary>Fewest in-flight requests, random tie-break.</summary>
    Least,

    /// <summary>Uniform random.</summary>
    Random,
}

/// <summary>Which requests are traced (A13, D8).</summary>
public enum TraceMode
{
    /// <summary>Tracing disabled (<c>--trace ""</c>).</summary>
    None,

    /// <summary>Every request and health probe.</summary>
    All,

    /// <summary>Only proxied application requests, no health probes.</summary>
    Application,

    /// <summary>Only health probes.</summary>
    MinIO,
}

/// <summary>Highest TLS version offered on both sides (A26).</summary>
public enum TlsMaxVersion
{
    /// <summary>TLS 1.2.</summary>
    Tls12,

    /// <summary>TLS 1.3 (default).</summary>
    Tls13,
}

/// <summary>One backend endpoint as given on the command line, after ellipses expansion (B2, B5, B7).</summary>
/// <param name="Endpoint">The endpoint text with one trailing '/' removed, e.g. <c>http://minio1:9000</c>; used as the metrics label.</param>
/// <param name="Uri">The parsed endpoint: scheme, host and port decide where to connect.</param>
/// <param name="HealthUrl">The health-check URL (endpoint + health path, cleaned, default port dropped, --health-port applied).</param>
public sealed record BackendOptions(string Endpoint, Uri Uri, Uri HealthUrl)
{
    /// <summary>TLS name to send (SNI) and verify when it differs from the URL's host: rr-dns mode puts an address in the URL (G6).</summary>
    public string? TlsServerName { get; init; }
}

/// <summary>One SITE: a flat list of backends from all its pools, in expansion order (B1, B2).</summary>
/// <param name="Number">1-based position on the command line = failover priority.</param>
/// <param name="Argument">The SITE argument exactly as given, kept so SIGHUP can re-expand it (J1).</param>
/// <param name="Backends">Every endpoint of every pool of the site.</param>
public sealed record SiteOptions(int Number, string Argument, ImmutableArray<BackendOptions> Backends)
{
    /// <summary>"http" or "https": all endpoints of one site share it (B5).</summary>
    public string Scheme => Backends[0].Uri.Scheme;
}

/// <summary>
/// The whole configuration of one sidekick instance. Built from the command line by Sidekick.Cli,
/// or by hand by anyone embedding the proxy. Immutable.
/// </summary>
public sealed record SidekickOptions
{
    /// <summary>Listen address as given (Go syntax, A2), e.g. <c>:8080</c>.</summary>
    public string Address { get; init; } = ":8080";

    /// <summary>The endpoint to bind, resolved from <see cref="Address"/>: IPv6Any (dual-stack) when the host is empty.</summary>
    public IPEndPoint ListenEndPoint { get; init; } = new(IPAddress.IPv6Any, 8080);

    /// <summary>Sites in failover order.</summary>
    public ImmutableArray<SiteOptions> Sites { get; init; } = [];

    /// <summary>--health-path, normalised to start with '/' ("/" when empty).</summary>
    public string HealthPath { get; init; } = "/";

    /// <summary>--read-health-path, normalised; used for the last site (A4).</summary>
    public string ReadHealthPath { get; init; } = "/";

    /// <summary>--health-port; 0 keeps the endpoint's own port.</summary>
    public int HealthPort { get; init; }

    /// <summary>--health-duration (5 s).</summary>
    public TimeSpan HealthDuration { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>--health-timeout (10 s).</summary>
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>--health-optimistic: probe only while a backend is down (D6).</summary>
    public bool HealthOptimistic { get; init; }

    /// <summary>--insecure: skip TLS verification of https backends.</summary>
    public bool Insecure { get; init; }

    /// <summary>--rr-dns-mode (G6).</summary>
    public bool RoundRobinDns { get; init; }

    /// <summary>--auto-tls-host, split on commas; empty when not given.</summary>
    public ImmutableArray<string> AutoTlsHosts { get; init; } = [];

    /// <summary>--log.</summary>
    public bool Log { get; init; }

    /// <summary>--trace (default All).</summary>
    public TraceMode Trace { get; init; } = TraceMode.All;

    /// <summary>True when --trace was given explicitly (forces console mode, I1).</summary>
    public bool TraceExplicit { get; init; }

    /// <summary>--quiet.</summary>
    public bool Quiet { get; init; }

    /// <summary>--json.</summary>
    public bool Json { get; init; }

    /// <summary>--debug.</summary>
    public bool Debug { get; init; }

    /// <summary>--cacert path or null.</summary>
    public string? CaCertFile { get; init; }

    /// <summary>--client-cert path or null.</summary>
    public string? ClientCertFile { get; init; }

    /// <summary>--client-key path or null.</summary>
    public string? ClientKeyFile { get; init; }

    /// <summary>--cert path or null.</summary>
    public string? CertFile { get; init; }

    /// <summary>--key path or null.</summary>
    public string? KeyFile { get; init; }

    /// <summary>--key-password or null.</summary>
    public string? KeyPassword { get; init; }

    /// <summary>--pprof address or null.</summary>
    public string? PprofAddress { get; init; }

    /// <summary>--dns-ttl (10 min).</summary>
    public TimeSpan DnsTtl { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The resolver behind the DNS cache and rr-dns mode; null means the system resolver (tests inject answers here).</summary>
    public Sidekick.Core.NameResolution.IDnsResolver? DnsResolver { get; init; }

    /// <summary>--errors: trace only 4xx/5xx.</summary>
    public bool ErrorsOnly { get; init; }

    /// <summary>--status-code values (trace filter).</summary>
    public ImmutableArray<int> StatusCodes { get; init; } = [];

    /// <summary>--host-balance.</summary>
    public HostBalance HostBalance { get; init; } = HostBalance.Least;

    /// <summary>--tls-max.</summary>
    public TlsMaxVersion TlsMax { get; init; } = TlsMaxVersion.Tls13;

    /// <summary>Data-plane limits and timeouts (not in the original; see README "Limits").</summary>
    public ProxyLimits Limits { get; init; } = new();
}

/// <summary>Limits and timeouts of the data plane. Every one has a name, a default and a test.</summary>
public sealed record ProxyLimits
{
    /// <summary>--header-timeout: time allowed to receive a complete request head (slowloris guard). Default 30 s.</summary>
    public TimeSpan HeaderTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>--idle-timeout: how long an idle client keep-alive connection is kept. Default 120 s.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Connect timeout to a backend: 10 s as the original (G1).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an idle upstream connection is kept for reuse: 15 s as the original (G1).</summary>
    public TimeSpan UpstreamIdleTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>--max-header-bytes: request or response head size limit (request line + headers). Default 64 KiB.</summary>
    public int MaxHeaderBytes { get; init; } = 64 * 1024;

    /// <summary>--max-header-count: most header fields in one head. Default 100.</summary>
    public int MaxHeaderCount { get; init; } = 100;

    /// <summary>Longest request line accepted before 414. Default 16 KiB (bounded by MaxHeaderBytes).</summary>
    public int MaxRequestLineBytes { get; init; } = 16 * 1024;

    /// <summary>Time a client has to complete its TLS handshake with the listener. Default 10 s.</summary>
    public TimeSpan TlsHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Time allowed for the TLS handshake with an https backend: 15 s as the original (Go's TLSHandshakeTimeout, G1).</summary>
    public TimeSpan UpstreamTlsHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>--shutdown-timeout: how long in-flight requests may finish after SIGTERM. Default 25 s.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(25);
}
