// The public surface of Sidekick.Http1 that Sidekick.Core programs against.
// Bodies are filled in by the parser work; signatures are the contract.
using System.Buffers;

namespace Sidekick.Http1;

/// <summary>Request methods the proxy treats specially; anything else is <see cref="Other"/>.</summary>
public enum HttpMethodKind : byte
{
    /// <summary>Any other token.</summary>
    Other,
    /// <summary>GET.</summary>
    Get,
    /// <summary>HEAD.</summary>
    Head,
    /// <summary>POST.</summary>
    Post,
    /// <summary>PUT.</summary>
    Put,
    /// <summary>DELETE.</summary>
    Delete,
    /// <summary>OPTIONS.</summary>
    Options,
    /// <summary>PATCH.</summary>
    Patch,
    /// <summary>TRACE.</summary>
    Trace,
    /// <summary>CONNECT.</summary>
    Connect,
}

/// <summary>Header fields recognised by name (case-insensitive, matched as bytes).</summary>
public enum KnownHeader : byte
{
    /// <summary>Not one of the below.</summary>
    None,
    Host, ContentLength, TransferEncoding, Connection, KeepAlive, ProxyConnection, TE, Trailer,
    Upgrade, ProxyAuthenticate, ProxyAuthorization, Expect, XForwardedFor, XForwardedHost,
    XForwardedProto, XRealIp, Server, XProxy,
}

/// <summary>How the body of a message is delimited (RFC 9112 section 6.3).</summary>
public enum BodyFraming : byte
{
    /// <summary>No body.</summary>
    None,
    /// <summary>Exactly ContentLength bytes (may be 0).</summary>
    ContentLength,
    /// <summary>Chunked transfer coding.</summary>
    Chunked,
    /// <summary>Response body delimited by connection close.</summary>
    UntilClose,
}

/// <summary>Outcome of one parse attempt.</summary>
public enum ParseStatus : byte
{
    /// <summary>Not enough bytes yet; nothing consumed.</summary>
    Incomplete,
    /// <summary>A whole head was parsed and validated.</summary>
    Complete,
    /// <summary>The input is invalid; see <see cref="Http1Error"/>.</summary>
    Error,
}

/// <summary>A protocol violation: the status to answer (400, 405, 414, 431, 501, 505; 502 for responses) and why.</summary>
public readonly record struct Http1Error(int StatusCode, string Reason);

/// <summary>Size limits enforced by the parser.</summary>
public sealed record Http1Limits
{
    /// <summary>Whole head (start line + headers + CRLFs). Over it: 431 (or 414 when the request line alone is over <see cref="MaxRequestLineBytes"/>).</summary>
    public int MaxHeadBytes { get; init; } = 64 * 1024;
    /// <summary>Request line. Over it: 414.</summary>
    public int MaxRequestLineBytes { get; init; } = 16 * 1024;
    /// <summary>Header field count. Over it: 431.</summary>
    public int MaxHeaderCount { get; init; } = 100;
    /// <summary>A chunk-size line including extensions. Over it: 400.</summary>
    public int MaxChunkLineBytes { get; init; } = 4096;
}
