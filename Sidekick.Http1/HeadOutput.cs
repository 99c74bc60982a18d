using System.Buffers;

namespace Sidekick.Http1;

/// <summary>
/// Writes small pieces into an <see cref="IBufferWriter{T}"/> without intermediate strings: fills the span it was
/// given and asks for more only when a piece does not fit (Kestrel's BufferWriter pattern).
/// </summary>
internal ref struct HeadOutput
{
    private const int MinimumRequest = 512;

    private readonly IBufferWriter<byte> _output;
    private Span<byte> _span;
    private int _buffered;
    private int _committed;

    public HeadOutput(IBufferWriter<byte> output)
    {
        _output = output;
        _span = output.GetSpan(MinimumRequest);
        _buffered = 0;
        _committed = 0;
    }

    public readonly int Written => _committed + _buffered;

    public void Write(scoped ReadOnlySpan<byte> bytes) => bytes.CopyTo(Take(bytes.Length));

    /// <summary>"name: value" CRLF, as one piece: one check for room, and the separators stored, not copied.</summary>
    public void Header(scoped ReadOnlySpan<byte> name, scoped ReadOnlySpan<byte> value)
    {
        var span = Take(name.Length + value.Length + 4);
        name.CopyTo(span);
        span[name.Length] = (byte)':';
        span[name.Length + 1] = (byte)' ';
        value.CopyTo(span[(name.Length + 2)..]);
        span[^2] = (byte)'\r';
        span[^1] = (byte)'\n';
    }

    /// <summary>The next <paramref name="length"/> bytes of output, counted as written (a new span when they do not fit).</summary>
    private Span<byte> Take(int length)
    {
        if (length > _span.Length - _buffered)
        {
            Commit();
            _span = _output.GetSpan(Math.Max(length, MinimumRequest));
        }

        var span = _span.Slice(_buffered, length);
        _buffered += length;
        return span;
    }

    /// <summary>A three-digit status code (100-599 by construction of the parser).</summary>
    public void StatusCode(int code)
    {
        Span<byte> digits = [(byte)('0' + (code / 100 % 10)), (byte)('0' + (code / 10 % 10)), (byte)('0' + (code % 10))];
        Write(digits);
    }

    /// <summary>Hands the buffered bytes to the writer; returns the total written.</summary>
    public int Commit()
    {
        if (_buffered > 0)
        {
            _output.Advance(_buffered);
            _committed += _buffered;
            _buffered = 0;
        }

        _span = default;
        return _committed;
    }
}
