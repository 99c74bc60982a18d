namespace Sidekick.Http1;

/// <summary>A parsed request head.</summary>
public sealed class RequestHead : MessageHead
{
    private Segment _method;
    private HttpMethodKind _methodKind;
    private Segment _target;
    private Segment _originForm;
    private int _queryMark;
    private bool _isAbsoluteForm;
    private Segment _authority;
    private Segment _host;
    private bool _expectContinue;
    private bool _expectOther;
    private bool _teTrailers;

    /// <summary>Method token.</summary>
    public ReadOnlySpan<byte> Method => Span(_method);

    /// <summary>Method kind.</summary>
    public HttpMethodKind MethodKind => _methodKind;

    /// <summary>Request target exactly as received.</summary>
    public ReadOnlySpan<byte> Target => Span(_target);

    /// <summary>Target in origin-form (path and query, byte-exact); for absolute-form the part after the authority ("/" when empty); "*" for asterisk-form.</summary>
    public ReadOnlySpan<byte> OriginForm => Span(_originForm);

    /// <summary>Path part of <see cref="OriginForm"/> (before '?').</summary>
    public ReadOnlySpan<byte> Path => _queryMark < 0 ? OriginForm : OriginForm[.._queryMark];

    /// <summary>Query part of <see cref="OriginForm"/> (after '?', without it; empty when none).</summary>
    public ReadOnlySpan<byte> Query => _queryMark < 0 ? default : OriginForm[(_queryMark + 1)..];

    /// <summary>True when the target was in absolute-form.</summary>
    public bool IsAbsoluteForm => _isAbsoluteForm;

    /// <summary>Effective host: the Host header value, or the authority of an absolute-form target (RFC 9112 3.2.2).</summary>
    public ReadOnlySpan<byte> Host => Span(_host);

    /// <summary>Expect: 100-continue was sent.</summary>
    public bool ExpectContinue => _expectContinue;

    /// <summary>
    /// An expectation other than 100-continue was sent (and not 100-continue): a server may answer 417 (RFC 9110
    /// 10.1.1), as the original's Go server does.
    /// </summary>
    public bool ExpectationUnsupported => _expectOther && !_expectContinue;

    /// <summary>TE contained "trailers".</summary>
    public bool TeTrailers => _teTrailers;

    internal override void Reset()
    {
        base.Reset();
        _method = default;
        _methodKind = HttpMethodKind.Other;
        _target = default;
        _originForm = default;
        _queryMark = -1;
        _isAbsoluteForm = false;
        _authority = default;
        _host = default;
        _expectContinue = false;
        _expectOther = false;
        _teTrailers = false;
    }

    /// <summary>Records the request line and classifies the target form (RFC 9112 3.2).</summary>
    internal bool SetRequestLine(ReadOnlySpan<byte> method, ReadOnlySpan<byte> target, out Http1Error error)
    {
        _methodKind = Methods.Classify(method);

        // RFC 9112 3.2.3: authority-form is only for CONNECT, and sidekick is a reverse proxy (no tunnels on request).
        if (_methodKind == HttpMethodKind.Connect)
        {
            error = Http1Errors.ConnectNotSupported;
            return false;
        }

        _method = Append(method);
        _target = Append(target);
        if (target[0] == (byte)'/')
        {
            _originForm = _target;
        }
        else if (target.Length == 1 && target[0] == (byte)'*')
        {
            // RFC 9112 3.2.4: asterisk-form only for a server-wide OPTIONS.
            if (_methodKind != HttpMethodKind.Options)
            {
                error = Http1Errors.AsteriskNotOptions;
                return false;
            }

            _originForm = _target;
        }
        else if (!SetAbsoluteForm(target, out error))
        {
            return false;
        }

        _queryMark = OriginForm.IndexOf((byte)'?');
        error = default;
        return true;
    }

    /// <summary>
    /// RFC 9112 3.2.2: absolute-form "http(s)://authority[path-abempty][?query]". The authority becomes the
    /// effective host; the rest (or "/") is what goes upstream.
    /// </summary>
    private bool SetAbsoluteForm(ReadOnlySpan<byte> target, out Http1Error error)
    {
        int schemeLength = StartsWithIgnoreCase(target, "http://"u8) ? 7 : StartsWithIgnoreCase(target, "https://"u8) ? 8 : 0;
        if (schemeLength == 0)
        {
            error = Http1Errors.BadTarget;
            return false;
        }

        ReadOnlySpan<byte> rest = target[schemeLength..];
        int end = rest.IndexOfAny("/?#"u8);
        ReadOnlySpan<byte> authority = end < 0 ? rest : rest[..end];

        // userinfo is forbidden in http(s) URIs (RFC 9110 4.2.4); validate like a Host value.
        if (!HostSyntax.IsValid(authority))
        {
            error = Http1Errors.BadAuthority;
            return false;
        }

        _authority = new Segment(_target.Start + schemeLength, authority.Length);
        ReadOnlySpan<byte> pathAndQuery = end < 0 ? default : rest[end..];
        if (!pathAndQuery.IsEmpty && pathAndQuery[0] == (byte)'/')
        {
            _originForm = new Segment(_target.Start + schemeLength + end, pathAndQuery.Length);
        }
        else
        {
            _originForm = Append("/"u8, pathAndQuery);
        }

        _isAbsoluteForm = true;
        error = default;
        return true;
    }

    /// <summary>Request semantics once all fields are in (RFC 9112 3.2, 6, 9.3; RFC 9110 7.8).</summary>
    internal bool Complete(bool isHttp11, int headLength, out Http1Error error)
    {
        if (!AnalyzeHeaders(out HeaderFacts facts, out error))
        {
            return false;
        }

        if (facts.HostCount > 1)
        {
            error = Http1Errors.MultipleHost;
            return false;
        }

        if (facts.HostCount == 1)
        {
            _host = HeaderValueSegment(facts.FirstHost);
            if (!HostSyntax.IsValid(Span(_host)))
            {
                error = Http1Errors.BadHost;
                return false;
            }
        }
        else if (isHttp11)
        {
            // Also for absolute-form (RFC 9112 3.2: a server MUST answer 400 to any HTTP/1.1 request without Host;
            // Go's server does).
            error = Http1Errors.MissingHost;
            return false;
        }

        if (_isAbsoluteForm)
        {
            // RFC 9112 3.2.2: the authority of an absolute-form target wins over Host.
            _host = _authority;
        }

        BodyFraming framing = BodyFraming.None;
        if (facts.TransferEncodingCount > 0)
        {
            // RFC 9112 6.1 and 6.3: TE in 1.0 or together with CL is faulty framing; chunked must be final.
            if (!isHttp11)
            {
                error = Http1Errors.TransferEncodingInHttp10;
                return false;
            }

            if (facts.ContentLengthCount > 0)
            {
                error = Http1Errors.ContentLengthAndChunked;
                return false;
            }

            if (facts.MalformedCoding)
            {
                error = Http1Errors.BadTransferEncoding;
                return false;
            }

            if (facts.OtherCodingCount > 0)
            {
                error = Http1Errors.UnsupportedTransferCoding;
                return false;
            }

            if (!facts.IsExactlyChunked)
            {
                error = Http1Errors.ChunkedNotOnceAndLast;
                return false;
            }

            framing = BodyFraming.Chunked;
        }
        else if (facts.ContentLengthCount > 0)
        {
            framing = BodyFraming.ContentLength;
        }

        // RFC 9110 7.8: an upgrade needs "upgrade" in Connection and an Upgrade field.
        bool isUpgrade = facts.ConnectionUpgrade && facts.FirstUpgrade >= 0;
        if (isUpgrade && (framing == BodyFraming.Chunked || (framing == BodyFraming.ContentLength && facts.ContentLength > 0)))
        {
            error = Http1Errors.UpgradeWithBody;
            return false;
        }

        _expectContinue = facts.ExpectContinue;
        _expectOther = facts.ExpectOther;
        _teTrailers = facts.TeTrailers;
        SetMessageFacts(isHttp11, framing, facts.ContentLength, facts.KeepAlive(isHttp11), isUpgrade, facts.FirstUpgrade, headLength);
        return true;
    }

    private static bool StartsWithIgnoreCase(ReadOnlySpan<byte> s, ReadOnlySpan<byte> prefix) =>
        s.Length >= prefix.Length && KnownHeaders.Is(s[..prefix.Length], prefix);
}
