using System.Buffers;

namespace Sidekick.Http1;

/// <summary>
/// The low-level HTTP/1.1 head parser (RFC 9112 sections 2-5): splits lines, checks the syntax of the start line
/// and of each field line, enforces the size limits, and hands the pieces to a struct handler. Semantics
/// (framing, Host, hop-by-hop) belong to the handler. Error statuses are the request ones; the response entry
/// point maps them to 502.
/// </summary>
internal static class HeadParser
{
    private const int ScratchSize = 256;

    public static ParseStatus Parse<THandler>(ref SequenceReader<byte> reader, ref THandler handler, bool isRequest, Http1Limits limits, out Http1Error error)
        where THandler : struct, IHttpHeadHandler
    {
        Span<byte> scratch = stackalloc byte[ScratchSize];
        byte[]? rented = null;
        try
        {
        long headStart = reader.Consumed;
        long maxHead = limits.MaxHeadBytes;
        scoped ReadOnlySpan<byte> line;
        LineResult result;

        // Start line. RFC 9112 2.2: a server SHOULD ignore at least one empty line received before the request-line.
        while (true)
        {
            long maxLine = isRequest ? Math.Min(limits.MaxRequestLineBytes, maxHead - (reader.Consumed - headStart)) : maxHead;
            result = LineReader.TryRead(ref reader, maxLine, out line, out ReadOnlySequence<byte> multiSegmentLine);
            if (result == LineResult.FoundMultiSegment)
            {
                line = LineReader.Flatten(multiSegmentLine, scratch, ref rented);
            }
            else if (result != LineResult.Found)
            {
                return NotFound(result, isRequest && maxLine == limits.MaxRequestLineBytes ? Http1Errors.RequestLineTooLong : Http1Errors.HeadTooLarge, out error);
            }

            if (!isRequest || line.Length != 0)
            {
                break;
            }
        }

        if (isRequest)
        {
            if (!ParseRequestLine(line, out ReadOnlySpan<byte> method, out ReadOnlySpan<byte> target, out bool isHttp11, out error)
                || !handler.OnRequestLine(method, target, isHttp11, out error))
            {
                return ParseStatus.Error;
            }
        }
        else if (!ParseStatusLine(line, out bool isHttp11, out int status, out ReadOnlySpan<byte> reason, out error)
            || !handler.OnStatusLine(isHttp11, status, reason, out error))
        {
            return ParseStatus.Error;
        }

        // Field lines until the empty line (RFC 9112 5).
        int count = 0;
        while (true)
        {
            long maxLine = maxHead - (reader.Consumed - headStart);
            result = LineReader.TryRead(ref reader, maxLine, out line, out ReadOnlySequence<byte> multiSegmentLine);
            if (result == LineResult.FoundMultiSegment)
            {
                line = LineReader.Flatten(multiSegmentLine, scratch, ref rented);
            }
            else if (result != LineResult.Found)
            {
                return NotFound(result, Http1Errors.HeadTooLarge, out error);
            }

            if (line.Length == 0)
            {
                break;
            }

            if (++count > limits.MaxHeaderCount)
            {
                error = Http1Errors.TooManyHeaders;
                return ParseStatus.Error;
            }

            if (!ParseFieldLine(line, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value, out error))
            {
                return ParseStatus.Error;
            }

            handler.OnHeader(name, value);
        }

        return handler.OnHeadersComplete((int)(reader.Consumed - headStart), out error) ? ParseStatus.Complete : ParseStatus.Error;
        }
        finally
        {
            LineReader.Return(rented);
        }
    }

    private static ParseStatus NotFound(LineResult result, in Http1Error tooLong, out Http1Error error)
    {
        switch (result)
        {
            case LineResult.Incomplete:
                error = default;
                return ParseStatus.Incomplete;
            case LineResult.TooLong:
                error = tooLong;
                return ParseStatus.Error;
            default:
                error = Http1Errors.BareLineFeed;
                return ParseStatus.Error;
        }
    }

    /// <summary>request-line = method SP request-target SP HTTP-version (RFC 9112 3), exactly one SP each.</summary>
    internal static bool ParseRequestLine(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> method, out ReadOnlySpan<byte> target, out bool isHttp11, out Http1Error error)
    {
        target = default;
        isHttp11 = false;
        int sp1 = line.IndexOf((byte)' ');
        int sp2 = line.LastIndexOf((byte)' ');
        if (sp1 <= 0 || sp2 == sp1)
        {
            method = default;
            error = Http1Errors.BadRequestLine;
            return false;
        }

        method = line[..sp1];
        if (method.ContainsAnyExcept(HttpChars.Token))
        {
            error = Http1Errors.BadMethod;
            return false;
        }

        if (!ParseVersion(line[(sp2 + 1)..], out isHttp11, out error))
        {
            return false;
        }

        // A second SP inside the target (or a doubled SP) leaves SP in this slice and is rejected here.
        target = line[(sp1 + 1)..sp2];
        if (target.IsEmpty || target.ContainsAnyExcept(HttpChars.Target))
        {
            error = Http1Errors.BadTarget;
            return false;
        }

        error = default;
        return true;
    }

    /// <summary>
    /// HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3). Major version 1 is served: a minor version above 1 is
    /// taken as 1.1 (RFC 9110 2.5: the highest minor version implemented, as Go's server does); other major versions
    /// get 505.
    /// </summary>
    private static bool ParseVersion(ReadOnlySpan<byte> version, out bool isHttp11, out Http1Error error)
    {
        error = default;
        if (IsHttp1(version, out isHttp11))
        {
            return true;
        }

        bool wellFormed = version.Length == 8 && version.StartsWith("HTTP/"u8)
            && char.IsAsciiDigit((char)version[5]) && version[6] == (byte)'.' && char.IsAsciiDigit((char)version[7]);
        error = wellFormed ? Http1Errors.VersionNotSupported : Http1Errors.BadVersion;
        return false;
    }

    /// <summary>"HTTP/1." and a digit: 1.0, or 1.1 and above (read as 1.1).</summary>
    private static bool IsHttp1(ReadOnlySpan<byte> version, out bool isHttp11)
    {
        isHttp11 = false;
        if (version.Length != 8 || !version.StartsWith("HTTP/1."u8) || !char.IsAsciiDigit((char)version[7]))
        {
            return false;
        }

        isHttp11 = version[7] != (byte)'0';
        return true;
    }

    /// <summary>status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 4); a missing final SP is tolerated.</summary>
    internal static bool ParseStatusLine(ReadOnlySpan<byte> line, out bool isHttp11, out int status, out ReadOnlySpan<byte> reason, out Http1Error error)
    {
        status = 0;
        reason = default;
        isHttp11 = false;
        error = Http1Errors.BadStatusLine;
        if (line.Length < 12 || line[8] != (byte)' ' || (line.Length > 12 && line[12] != (byte)' '))
        {
            return false;
        }

        if (!IsHttp1(line[..8], out isHttp11))
        {
            return false;
        }

        ReadOnlySpan<byte> code = line.Slice(9, 3);
        if (code.ContainsAnyExcept(HttpChars.Digit))
        {
            return false;
        }

        status = ((code[0] - '0') * 100) + ((code[1] - '0') * 10) + (code[2] - '0');
        if (status is < 100 or > 599)
        {
            return false;
        }

        reason = line.Length > 12 ? line[13..] : default;
        if (reason.ContainsAnyExcept(HttpChars.FieldValue))
        {
            error = Http1Errors.BadReason;
            return false;
        }

        error = default;
        return true;
    }

    /// <summary>
    /// field-line = field-name ":" OWS field-value OWS (RFC 9112 5). No whitespace before the colon (5.1, a proxy
    /// must reject), no obs-fold (5.2), no CTLs in the value (RFC 9110 5.5). Also used for chunked trailers.
    /// </summary>
    internal static bool ParseFieldLine(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value, out Http1Error error)
    {
        name = default;
        value = default;
        if (HttpChars.IsOws(line[0]))
        {
            error = Http1Errors.ObsFold;
            return false;
        }

        int colon = line.IndexOf((byte)':');
        if (colon < 0)
        {
            error = Http1Errors.MissingColon;
            return false;
        }

        if (colon == 0)
        {
            error = Http1Errors.EmptyHeaderName;
            return false;
        }

        name = line[..colon];
        int bad = name.IndexOfAnyExcept(HttpChars.Token);
        if (bad >= 0)
        {
            error = HttpChars.IsOws(name[^1]) ? Http1Errors.WhitespaceBeforeColon : Http1Errors.BadHeaderName;
            return false;
        }

        value = HttpChars.TrimOws(line[(colon + 1)..]);
        if (value.ContainsAnyExcept(HttpChars.FieldValue))
        {
            error = Http1Errors.BadHeaderValue;
            return false;
        }

        error = default;
        return true;
    }
}
