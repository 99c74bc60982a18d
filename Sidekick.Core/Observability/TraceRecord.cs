namespace Sidekick.Core.Observability;

/// <summary>Where a trace record comes from: a proxied request, or one of sidekick's own health probes (D8).</summary>
public enum TraceOrigin
{
    /// <summary>A client request forwarded to a backend.</summary>
    Application,

    /// <summary>A health probe sidekick sent to a backend.</summary>
    HealthProbe,
}

/// <summary>
/// One completed request or probe, as the trace writer prints it (I3-I5). Built only when the record passes the
/// filters and the channel has room, so tracing off costs nothing.
/// </summary>
public sealed class TraceRecord
{
    /// <summary>Request or probe.</summary>
    public TraceOrigin Origin { get; init; }

    /// <summary>Backend endpoint (the metrics label).</summary>
    public required string Endpoint { get; init; }

    /// <summary>When the request started (UTC). The original printed the completion time (d.17).</summary>
    public DateTime Time { get; init; }

    /// <summary>Client address: first X-Forwarded-For entry, else X-Real-IP, else the socket peer; IPv6 kept whole.</summary>
    public string Client { get; init; } = "";

    /// <summary>Request bytes received from the client (head and body).</summary>
    public long Rx { get; init; }

    /// <summary>Response bytes sent to the client (head and body).</summary>
    public long Tx { get; init; }

    /// <summary>From request start to the end of the response.</summary>
    public TimeSpan Latency { get; init; }

    /// <summary>From request start to the first response byte from the backend (zero when none came).</summary>
    public TimeSpan TimeToFirstByte { get; init; }

    /// <summary>For probes: why the backend is considered down, else null.</summary>
    public string? HealthError { get; init; }

    /// <summary>Status code sent to the client (502 when the backend failed).</summary>
    public int StatusCode { get; init; }

    /// <summary>Status text.</summary>
    public string StatusMessage { get; init; } = "";

    /// <summary>Request method.</summary>
    public string Method { get; init; } = "";

    /// <summary>Request path as sent (not decoded).</summary>
    public string Path { get; init; } = "";

    /// <summary>Raw query without '?', empty when none.</summary>
    public string Query { get; init; } = "";

    /// <summary>Host header of the request.</summary>
    public string Host { get; init; } = "";

    /// <summary>Request headers in order (only with --debug).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> RequestHeaders { get; init; } = [];

    /// <summary>Response headers in order (only with --debug).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ResponseHeaders { get; init; } = [];
}
