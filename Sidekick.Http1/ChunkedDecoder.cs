using System.Buffers;

namespace Sidekick.Http1;

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
/// <remarks>
/// Grammar (RFC 9112 7.1): chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; last-chunk = 1*"0" [ chunk-ext ] CRLF;
/// then trailer-section CRLF. A size line or trailer line counts only once complete; chunk data counts as it arrives.
/// </remarks>
public struct ChunkedDecoder
{
    private const int ScratchSize = 256;

    private State _state;
    private long _remaining;
    private long _trailerBytes;

    private enum State : byte
    {
        SizeLine,
        Data,
        DataCrlf,
        Trailers,
        Done,
    }

    /// <summary>Validate as far as possible.</summary>
    public ChunkedStatus Advance(in ReadOnlySequence<byte> buffer, Http1Limits limits, out long forwardable, out Http1Error error)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var reader = new SequenceReader<byte>(buffer);
        Span<byte> scratch = stackalloc byte[ScratchSize];
        byte[]? rented = null;
        scoped ReadOnlySpan<byte> line;
        error = default;
        try
        {
            while (true)
            {
                switch (_state)
                {
                    case State.SizeLine:
                    case State.Trailers:
                    {
                        bool trailers = _state == State.Trailers;
                        long maxLine = trailers ? limits.MaxHeadBytes - _trailerBytes : limits.MaxChunkLineBytes;
                        LineResult result = LineReader.TryRead(ref reader, maxLine, out line, out ReadOnlySequence<byte> multiSegmentLine);
                        switch (result)
                        {
                            case LineResult.FoundMultiSegment:
                                line = LineReader.Flatten(multiSegmentLine, scratch, ref rented);
                                break;
                            case LineResult.Found:
                                break;
                            case LineResult.Incomplete:
                                forwardable = reader.Consumed;
                                return ChunkedStatus.NeedMore;
                            case LineResult.TooLong:
                                return Fail(trailers ? Http1Errors.TrailersTooLarge : Http1Errors.ChunkLineTooLong, out forwardable, out error);
                            default:
                                return Fail(Http1Errors.BareLineFeed, out forwardable, out error);
                        }

                        if (trailers)
                        {
                            if (line.IsEmpty)
                            {
                                _state = State.Done;
                                forwardable = reader.Consumed;
                                return ChunkedStatus.Done;
                            }

                            // Trailer fields follow the header field rules (RFC 9112 7.1.2).
                            if (!HeadParser.ParseFieldLine(line, out _, out _, out error))
                            {
                                return Fail(error, out forwardable, out error);
                            }

                            _trailerBytes += line.Length + 2;
                            break;
                        }

                        if (!TryParseSizeLine(line, out long size, out error))
                        {
                            return Fail(error, out forwardable, out error);
                        }

                        _remaining = size;
                        _state = size == 0 ? State.Trailers : State.Data;
                        break;
                    }

                    case State.Data:
                    {
                        // Data is forwardable as soon as it is present, even part of a chunk.
                        long take = Math.Min(_remaining, reader.Remaining);
                        reader.Advance(take);
                        _remaining -= take;
                        if (_remaining > 0)
                        {
                            forwardable = reader.Consumed;
                            return ChunkedStatus.NeedMore;
                        }

                        _state = State.DataCrlf;
                        break;
                    }

                    case State.DataCrlf:
                    {
                        // The CRLF after chunk-data is taken as a unit; anything else there is an error.
                        if (reader.TryPeek(out byte cr) && cr != (byte)'\r')
                        {
                            return Fail(Http1Errors.MissingChunkCrlf, out forwardable, out error);
                        }

                        if (reader.TryPeek(1, out byte lf) && lf != (byte)'\n')
                        {
                            return Fail(Http1Errors.MissingChunkCrlf, out forwardable, out error);
                        }

                        if (reader.Remaining < 2)
                        {
                            forwardable = reader.Consumed;
                            return ChunkedStatus.NeedMore;
                        }

                        reader.Advance(2);
                        _state = State.SizeLine;
                        break;
                    }

                    default:
                        forwardable = 0;
                        return ChunkedStatus.Done;
                }
            }
        }
        finally
        {
            LineReader.Return(rented);
        }
    }

    /// <summary>Back to the start state for the next message.</summary>
    public void Reset()
    {
        _state = State.SizeLine;
        _remaining = 0;
        _trailerBytes = 0;
    }

    private static ChunkedStatus Fail(in Http1Error reason, out long forwardable, out Http1Error error)
    {
        forwardable = 0;
        error = reason;
        return ChunkedStatus.Error;
    }

    /// <summary>chunk-size [ chunk-ext ]: 1*HEXDIG, then *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ).</summary>
    internal static bool TryParseSizeLine(ReadOnlySpan<byte> line, out long size, out Http1Error error)
    {
        size = 0;
        int i = 0;
        for (; i < line.Length; i++)
        {
            int digit = HttpChars.HexValue(line[i]);
            if (digit < 0)
            {
                break;
            }

            if (size > long.MaxValue >> 4)
            {
                error = Http1Errors.ChunkSizeOverflow;
                return false;
            }

            size = (size << 4) | (uint)digit;
        }

        if (i == 0)
        {
            error = Http1Errors.BadChunkSize;
            return false;
        }

        error = Http1Errors.BadChunkExtension;
        return TryParseExtensions(line[i..]);
    }

    private static bool TryParseExtensions(ReadOnlySpan<byte> ext)
    {
        int i = 0;
        while (i < ext.Length)
        {
            i = SkipOws(ext, i);
            if (i == ext.Length || ext[i] != (byte)';')
            {
                return false;
            }

            i = SkipOws(ext, i + 1);
            int nameLength = TokenLength(ext[i..]);
            if (nameLength == 0)
            {
                return false;
            }

            i += nameLength;
            int afterName = SkipOws(ext, i);
            if (afterName < ext.Length && ext[afterName] == (byte)'=')
            {
                i = SkipOws(ext, afterName + 1);
                int valueLength = i < ext.Length && ext[i] == (byte)'"' ? QuotedStringLength(ext[i..]) : TokenLength(ext[i..]);
                if (valueLength == 0)
                {
                    return false;
                }

                i += valueLength;
            }
        }

        return true;
    }

    private static int SkipOws(ReadOnlySpan<byte> s, int i)
    {
        while (i < s.Length && HttpChars.IsOws(s[i]))
        {
            i++;
        }

        return i;
    }

    private static int TokenLength(ReadOnlySpan<byte> s)
    {
        int end = s.IndexOfAnyExcept(HttpChars.Token);
        return end < 0 ? s.Length : end;
    }

    /// <summary>quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 5.6.4); 0 when malformed.</summary>
    private static int QuotedStringLength(ReadOnlySpan<byte> s)
    {
        int i = 1;
        while (i < s.Length)
        {
            byte b = s[i];
            if (b == (byte)'"')
            {
                return i + 1;
            }

            if (b == (byte)'\\')
            {
                if (i + 1 >= s.Length || !HttpChars.FieldValue.Contains(s[i + 1]))
                {
                    return 0;
                }

                i += 2;
            }
            else if (HttpChars.QdText.Contains(b))
            {
                i++;
            }
            else
            {
                return 0;
            }
        }

        return 0;
    }
}
