using System.Buffers;

namespace Sidekick.Http1;

/// <summary>
/// Tells how much of the bytes at hand belong to a message body and when the body is complete, whatever its
/// framing (RFC 9112 section 6.3): counts down a Content-Length, validates chunked incrementally (extensions and
/// trailers included, <see cref="ChunkedDecoder"/>), takes everything for a body delimited by close. Feed it the
/// bytes that follow what it last reported; state only advances over reported bytes. The result uses
/// <see cref="ChunkedStatus"/>: NeedMore, Done (the reported bytes end the body) or Error (malformed chunked).
/// </summary>
public struct BodyFramer
{
    private BodyFraming _framing;
    private long _remaining;
    private ChunkedDecoder _chunks;

    /// <summary>Starts a body of the given framing; <paramref name="contentLength"/> counts only for ContentLength.</summary>
    public void Reset(BodyFraming framing, long contentLength)
    {
        _framing = framing;
        _remaining = framing == BodyFraming.ContentLength ? contentLength : 0;
        _chunks.Reset();
    }

    /// <summary>True when there is no body byte to expect (no body, or Content-Length 0).</summary>
    public readonly bool IsEmpty => _framing == BodyFraming.None || (_framing == BodyFraming.ContentLength && _remaining == 0);

    /// <summary>
    /// Reports in <paramref name="take"/> how many leading bytes of <paramref name="buffer"/> are body. A body
    /// delimited by close is never Done here: its end is the connection's end, which only the caller sees.
    /// </summary>
    public ChunkedStatus Advance(in ReadOnlySequence<byte> buffer, Http1Limits limits, out long take, out Http1Error error)
    {
        error = default;
        switch (_framing)
        {
            case BodyFraming.ContentLength:
                take = Math.Min(_remaining, buffer.Length);
                _remaining -= take;
                return _remaining == 0 ? ChunkedStatus.Done : ChunkedStatus.NeedMore;
            case BodyFraming.Chunked:
                return _chunks.Advance(buffer, limits, out take, out error);
            case BodyFraming.UntilClose:
                take = buffer.Length;
                return ChunkedStatus.NeedMore;
            default:
                take = 0;
                return ChunkedStatus.Done;
        }
    }
}
