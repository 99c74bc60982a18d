// STUB: replaced by the real implementation. Signatures are the contract Sidekick.Core uses.
using System.Buffers;

namespace Sidekick.Http1;

/// <summary>
/// A parsed message head. The head bytes are copied into a buffer owned by this object (grown on demand,
/// reused across messages), so spans stay valid after the input pipe is advanced and a request can be
/// re-sent on retry. All accessors return spans into that buffer.
/// </summary>
public abstract class MessageHead
{
    /// <summary>Number of header fields (in order of arrival).</summary>
    public int HeaderCount => throw new NotImplementedException();
    /// <summary>Name of header i, as received.</summary>
    public ReadOnlySpan<byte> HeaderName(int i) => throw new NotImplementedException();
    /// <summary>Value of header i, leading/trailing OWS removed.</summary>
    public ReadOnlySpan<byte> HeaderValue(int i) => throw new NotImplementedException();
    /// <summary>Known id of header i.</summary>
    public KnownHeader HeaderKind(int i) => throw new NotImplementedException();
    /// <summary>True when header i must not be forwarded: the fixed hop-by-hop set, or a name listed in Connection.</summary>
    public bool IsHopByHop(int i) => throw new NotImplementedException();
    /// <summary>HTTP/1.1 (true) or HTTP/1.0 (false).</summary>
    public bool IsHttp11 => throw new NotImplementedException();
    /// <summary>Body framing decided from the headers.</summary>
    public BodyFraming Framing => throw new NotImplementedException();
    /// <summary>Content-Length when <see cref="Framing"/> is ContentLength.</summary>
    public long ContentLength => throw new NotImplementedException();
    /// <summary>The sender allows the connection to persist after this message (1.1 without close, 1.0 with keep-alive).</summary>
    public bool KeepAlive => throw new NotImplementedException();
    /// <summary>Upgrade requested (request) or accepted with 101 (response).</summary>
    public bool IsUpgrade => throw new NotImplementedException();
    /// <summary>Value of the Upgrade header when <see cref="IsUpgrade"/>.</summary>
    public ReadOnlySpan<byte> UpgradeValue => throw new NotImplementedException();
    /// <summary>Size of the head in the input, in bytes.</summary>
    public int HeadLength => throw new NotImplementedException();
}

/// <summary>A parsed request head.</summary>
public sealed class RequestHead : MessageHead
{
    /// <summary>Method token.</summary>
    public ReadOnlySpan<byte> Method => throw new NotImplementedException();
    /// <summary>Method kind.</summary>
    public HttpMethodKind MethodKind => throw new NotImplementedException();
    /// <summary>Request target exactly as received.</summary>
    public ReadOnlySpan<byte> Target => throw new NotImplementedException();
    /// <summary>Target in origin-form (path and query, byte-exact); for absolute-form the part after the authority ("/" when empty); "*" for asterisk-form.</summary>
    public ReadOnlySpan<byte> OriginForm => throw new NotImplementedException();
    /// <summary>Path part of <see cref="OriginForm"/> (before '?').</summary>
    public ReadOnlySpan<byte> Path => throw new NotImplementedException();
    /// <summary>Query part of <see cref="OriginForm"/> (after '?', without it; empty when none).</summary>
    public ReadOnlySpan<byte> Query => throw new NotImplementedException();
    /// <summary>True when the target was in absolute-form.</summary>
    public bool IsAbsoluteForm => throw new NotImplementedException();
    /// <summary>Effective host: the Host header value, or the authority of an absolute-form target (RFC 9112 3.2.2).</summary>
    public ReadOnlySpan<byte> Host => throw new NotImplementedException();
    /// <summary>Expect: 100-continue was sent.</summary>
    public bool ExpectContinue => throw new NotImplementedException();
    /// <summary>TE contained "trailers".</summary>
    public bool TeTrailers => throw new NotImplementedException();
}

/// <summary>A parsed response head.</summary>
public sealed class ResponseHead : MessageHead
{
    /// <summary>Status code.</summary>
    public int StatusCode => throw new NotImplementedException();
    /// <summary>Reason phrase (may be empty).</summary>
    public ReadOnlySpan<byte> Reason => throw new NotImplementedException();
}

/// <summary>Parses and validates message heads (RFC 9112).</summary>
public static class Http1Parser
{
    /// <summary>
    /// Parses a request head at the start of <paramref name="buffer"/>. Incomplete: consumed = buffer.Start.
    /// Complete: consumed is just after the blank line. Error: <paramref name="error"/> says the status.
    /// When incomplete and the buffer already exceeds a limit, returns Error (414/431).
    /// </summary>
    public static ParseStatus TryParseRequest(in ReadOnlySequence<byte> buffer, RequestHead head, Http1Limits limits, out SequencePosition consumed, out Http1Error error) => throw new NotImplementedException();

    /// <summary>Parses a response head; <paramref name="requestMethod"/> decides framing (HEAD => no body). Errors carry 502.</summary>
    public static ParseStatus TryParseResponse(in ReadOnlySequence<byte> buffer, ResponseHead head, HttpMethodKind requestMethod, Http1Limits limits, out SequencePosition consumed, out Http1Error error) => throw new NotImplementedException();
}

/// <summary>Outcome of <see cref="ChunkedDecoder.Advance"/>.</summary>
public enum ChunkedStatus : byte
{
    /// <summary>More input needed; the first <c>forwardable</c> bytes are validated and may be forwarded.</summary>
    NeedMore,
    /// <summary>The message ended: the first <c>forwardable</c> bytes complete it (last chunk, trailers, final CRLF).</summary>
    Done,
    /// <summary>Invalid chunked syntax.</summary>
    Error,
}

/// <summary>
/// Validates a chunked body incrementally so it can be forwarded verbatim (extensions and trailers included).
/// Feed it the bytes after what it last reported forwardable; state only advances over forwardable bytes.
/// </summary>
public struct ChunkedDecoder
{
    /// <summary>Validate as far as possible.</summary>
    public ChunkedStatus Advance(in ReadOnlySequence<byte> buffer, Http1Limits limits, out long forwardable, out Http1Error error) => throw new NotImplementedException();
    /// <summary>Back to the start state for the next message.</summary>
    public void Reset() => throw new NotImplementedException();
}

/// <summary>Writes rewritten heads (RFC 9110 section 7.6.1 hop-by-hop rules, sidekick rows E1-E7, E13, E14).</summary>
public static class HeadWriter
{
    /// <summary>
    /// Writes the request head to send upstream: "METHOD origin-form HTTP/1.1", headers minus hop-by-hop ones,
    /// "TE: trailers" when asked, "Transfer-Encoding: chunked" when chunked, "Connection: Upgrade" + "Upgrade" for
    /// upgrades, X-Forwarded-For (client values folded, then <paramref name="peerIp"/>), X-Real-IP and
    /// X-Forwarded-Host appended, X-Forwarded-Proto replaced. Host: forwarded unchanged (effective host for absolute-form).
    /// Returns the number of bytes written.
    /// </summary>
    public static int WriteRequest(IBufferWriter<byte> output, RequestHead head, ReadOnlySpan<byte> peerIp, ReadOnlySpan<byte> realIp, ReadOnlySpan<byte> proto) => throw new NotImplementedException();

    /// <summary>
    /// Writes the response head for the client: "HTTP/1.1 code reason", "Server: SideKick" first, backend headers minus
    /// hop-by-hop ones and minus X-Proxy, "X-Proxy: true", framing headers, and Connection: close / keep-alive (for a
    /// 1.0 client) / Upgrade (101). Returns the number of bytes written.
    /// </summary>
    public static int WriteResponse(IBufferWriter<byte> output, ResponseHead head, bool keepAlive, bool clientIsHttp10) => throw new NotImplementedException();
}
