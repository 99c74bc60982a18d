using System.Buffers;
using System.IO.Pipelines;

namespace Sidekick.Core.Proxy;

/// <summary>
/// Strips chunked framing from bytes that <see cref="Http1.ChunkedDecoder"/> has already validated, for an
/// HTTP/1.0 client, which cannot read chunked: the data goes out as is and the connection end delimits it.
/// Because the input is validated, this only tracks where data starts and ends.
/// </summary>
internal struct ChunkedDeframer
{
    private enum State : byte
    {
        SizeLine,
        Data,
        DataCrlf,
        Trailers,
    }

    private State _state;
    private long _remaining;
    private long _size;
    private bool _inExtension;
    private bool _lastChunk;

    public void Reset() => this = default;

    /// <summary>Writes the chunk data contained in <paramref name="validated"/> to <paramref name="output"/>; returns bytes written.</summary>
    public long Write(in ReadOnlySequence<byte> validated, PipeWriter output)
    {
        long written = 0;
        foreach (var segment in validated)
        {
            var span = segment.Span;
            var i = 0;
            while (i < span.Length)
            {
                switch (_state)
                {
                    case State.SizeLine:
                        var b = span[i++];
                        if (b == (byte)'\n')
                        {
                            _lastChunk = _size == 0;
                            _state = _lastChunk ? State.Trailers : State.Data;
                            _remaining = _size;
                            _size = 0;
                            _inExtension = false;
                        }
                        else if (b == (byte)';' || b == (byte)' ' || b == (byte)'\t')
                        {
                            _inExtension = true;
                        }
                        else if (!_inExtension && b != (byte)'\r')
                        {
                            _size = (_size << 4) | (long)HexValue(b);
                        }

                        break;
                    case State.Data:
                        var n = (int)Math.Min(_remaining, span.Length - i);
                        output.Write(span.Slice(i, n));
                        written += n;
                        i += n;
                        _remaining -= n;
                        if (_remaining == 0)
                        {
                            _state = State.DataCrlf;
                        }

                        break;
                    case State.DataCrlf:
                        if (span[i++] == (byte)'\n')
                        {
                            _state = State.SizeLine;
                        }

                        break;
                    default:
                        i = span.Length; // trailers: not representable without chunked; dropped
                        break;
                }
            }
        }

        return written;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => 0,
    };
}
