namespace Sidekick.Http1;

/// <summary>
/// Receives the pieces of a message head from <see cref="HeadParser"/>. Implemented by structs and passed as a
/// generic parameter so every call is devirtualised and inlinable (Kestrel's IHttpRequestLineHandler pattern).
/// Spans are only valid during the call.
/// </summary>
internal interface IHttpHeadHandler
{
    /// <summary>A syntactically valid request line. Returns false (with an error) to reject it.</summary>
    bool OnRequestLine(ReadOnlySpan<byte> method, ReadOnlySpan<byte> target, bool isHttp11, out Http1Error error);

    /// <summary>A syntactically valid status line.</summary>
    bool OnStatusLine(bool isHttp11, int statusCode, ReadOnlySpan<byte> reason, out Http1Error error);

    /// <summary>A syntactically valid header field; value has OWS trimmed.</summary>
    void OnHeader(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value);

    /// <summary>The blank line was reached; <paramref name="headLength"/> counts every byte of the head.</summary>
    bool OnHeadersComplete(int headLength, out Http1Error error);
}
