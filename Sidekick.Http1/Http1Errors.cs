namespace Sidekick.Http1;

/// <summary>The errors the parser reports, as static values so the error path does not allocate either.</summary>
internal static class Http1Errors
{
    public static readonly Http1Error BareLineFeed = new(400, "Line not terminated by CRLF");
    public static readonly Http1Error BadRequestLine = new(400, "Malformed request line");
    public static readonly Http1Error BadMethod = new(400, "Invalid method");
    public static readonly Http1Error BadTarget = new(400, "Invalid request target");
    public static readonly Http1Error BadVersion = new(400, "Invalid HTTP version");
    public static readonly Http1Error VersionNotSupported = new(505, "HTTP version not supported");
    public static readonly Http1Error ConnectNotSupported = new(405, "CONNECT is not supported: sidekick is not a forward proxy");
    public static readonly Http1Error AsteriskNotOptions = new(400, "Asterisk-form target is only allowed with OPTIONS");
    public static readonly Http1Error BadAuthority = new(400, "Invalid authority in request target");
    public static readonly Http1Error RequestLineTooLong = new(414, "Request line too long");
    public static readonly Http1Error HeadTooLarge = new(431, "Request header section too large");
    public static readonly Http1Error TooManyHeaders = new(431, "Too many header fields");
    public static readonly Http1Error ObsFold = new(400, "Obsolete line folding is not allowed");
    public static readonly Http1Error MissingColon = new(400, "Header line without a colon");
    public static readonly Http1Error EmptyHeaderName = new(400, "Empty header name");
    public static readonly Http1Error WhitespaceBeforeColon = new(400, "Whitespace between header name and colon");
    public static readonly Http1Error BadHeaderName = new(400, "Invalid header name");
    public static readonly Http1Error BadHeaderValue = new(400, "Invalid character in header value");
    public static readonly Http1Error MissingHost = new(400, "Missing Host header");
    public static readonly Http1Error MultipleHost = new(400, "Multiple Host headers");
    public static readonly Http1Error BadHost = new(400, "Invalid Host header");
    public static readonly Http1Error BadContentLength = new(400, "Invalid Content-Length");
    public static readonly Http1Error ConflictingContentLength = new(400, "Conflicting Content-Length values");
    public static readonly Http1Error ContentLengthAndChunked = new(400, "Both Content-Length and Transfer-Encoding present");
    public static readonly Http1Error TransferEncodingInHttp10 = new(400, "Transfer-Encoding in an HTTP/1.0 message");
    public static readonly Http1Error BadTransferEncoding = new(400, "Malformed Transfer-Encoding");
    public static readonly Http1Error UnsupportedTransferCoding = new(501, "Unsupported transfer coding");
    public static readonly Http1Error ChunkedNotOnceAndLast = new(400, "chunked must be the only transfer coding, applied once");
    public static readonly Http1Error BadConnection = new(400, "Invalid Connection header");
    public static readonly Http1Error UpgradeWithBody = new(400, "Upgrade request with a body");
    public static readonly Http1Error BadStatusLine = new(502, "Malformed status line");
    public static readonly Http1Error BadReason = new(502, "Invalid character in reason phrase");

    public static readonly Http1Error BadChunkSize = new(400, "Invalid chunk size");
    public static readonly Http1Error ChunkSizeOverflow = new(400, "Chunk size too large");
    public static readonly Http1Error BadChunkExtension = new(400, "Invalid chunk extension");
    public static readonly Http1Error ChunkLineTooLong = new(400, "Chunk size line too long");
    public static readonly Http1Error MissingChunkCrlf = new(400, "Chunk data not followed by CRLF");
    public static readonly Http1Error TrailersTooLarge = new(400, "Trailer section too large");

    /// <summary>A backend's protocol violation is answered with 502 to the client; the reason is kept.</summary>
    public static Http1Error AsResponseError(Http1Error error) => error with { StatusCode = 502 };
}
