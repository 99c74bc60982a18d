namespace Sidekick.Http1;

/// <summary>A parsed response head.</summary>
public sealed class ResponseHead : MessageHead
{
    private int _statusCode;
    private Segment _reason;

    /// <summary>Status code.</summary>
    public int StatusCode => _statusCode;

    /// <summary>Reason phrase (may be empty).</summary>
    public ReadOnlySpan<byte> Reason => Span(_reason);

    internal override void Reset()
    {
        base.Reset();
        _statusCode = 0;
        _reason = default;
    }

    internal void SetStatusLine(int statusCode, ReadOnlySpan<byte> reason)
    {
        _statusCode = statusCode;
        _reason = Append(reason);
    }

    /// <summary>Response framing (RFC 9112 6.3) and persistence (9.3). Errors are the backend's: 502.</summary>
    internal bool Complete(bool isHttp11, HttpMethodKind requestMethod, int headLength, out Http1Error error)
    {
        if (!AnalyzeHeaders(out HeaderFacts facts, out error))
        {
            error = Http1Errors.AsResponseError(error);
            return false;
        }

        if (facts.TransferEncodingCount > 0 && facts.MalformedCoding)
        {
            error = Http1Errors.AsResponseError(Http1Errors.BadTransferEncoding);
            return false;
        }

        // RFC 9112 6.3 rules 1-2: HEAD responses, 1xx, 204 and 304 never have a body, whatever the fields say.
        bool noBody = requestMethod == HttpMethodKind.Head || _statusCode < 200 || _statusCode is 204 or 304;
        BodyFraming framing = BodyFraming.None;
        if (!noBody)
        {
            if (facts.TransferEncodingCount > 0)
            {
                // Rules 3-4: TE with CL is a smuggling vector; a final coding other than chunked would mean
                // read-until-close, which a proxy cannot relay unambiguously; TE is not defined for 1.0.
                if (facts.ContentLengthCount > 0)
                {
                    error = Http1Errors.AsResponseError(Http1Errors.ContentLengthAndChunked);
                    return false;
                }

                if (!isHttp11)
                {
                    error = Http1Errors.AsResponseError(Http1Errors.TransferEncodingInHttp10);
                    return false;
                }

                if (!facts.IsExactlyChunked)
                {
                    error = Http1Errors.AsResponseError(Http1Errors.UnsupportedTransferCoding);
                    return false;
                }

                framing = BodyFraming.Chunked;
            }
            else
            {
                framing = facts.ContentLengthCount > 0 ? BodyFraming.ContentLength : BodyFraming.UntilClose;
            }
        }

        // 101: the connection becomes a tunnel, so it never returns to HTTP use (RFC 9110 15.2.2).
        bool isUpgrade = _statusCode == 101;
        bool keepAlive = facts.KeepAlive(isHttp11) && framing != BodyFraming.UntilClose && !isUpgrade;
        SetMessageFacts(isHttp11, framing, facts.ContentLength, keepAlive, isUpgrade, facts.FirstUpgrade, headLength);
        error = default;
        return true;
    }
}
