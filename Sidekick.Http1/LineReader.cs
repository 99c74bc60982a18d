using System.Buffers;

namespace Sidekick.Http1;

/// <summary>Result of <see cref="LineReader.TryRead"/>.</summary>
internal enum LineResult : byte
{
    /// <summary>A CRLF-terminated line inside one segment; the reader is past its LF.</summary>
    Found,
    /// <summary>A CRLF-terminated line that straddles segments; copy it with <see cref="LineReader.Flatten"/>.</summary>
    FoundMultiSegment,
    /// <summary>No LF yet; the reader did not move.</summary>
    Incomplete,
    /// <summary>The line (with CRLF) is longer than allowed, or would be once complete.</summary>
    TooLong,
    /// <summary>An LF not preceded by CR (RFC 9112 2.2: a proxy must not accept bare LF as a line end).</summary>
    BareLineFeed,
}

/// <summary>
/// Reads one CRLF-terminated line. The fast path slices the current segment; a line that straddles segments is
/// handed back as a sequence which the caller copies into stack memory (≤256 bytes) or one pooled array
/// (pattern of Kestrel's HttpParser.ParseMultiSpanHeader).
/// </summary>
internal static class LineReader
{
    public static LineResult TryRead(ref SequenceReader<byte> reader, long maxLineWithCrlf, out ReadOnlySpan<byte> line, out ReadOnlySequence<byte> multiSegmentLine)
    {
        multiSegmentLine = default;
        line = default;
        ReadOnlySpan<byte> unread = reader.UnreadSpan;
        int lf = unread.IndexOf((byte)'\n');
        if (lf >= 0)
        {
            if (lf + 1 > maxLineWithCrlf)
            {
                return LineResult.TooLong;
            }

            if (lf == 0 || unread[lf - 1] != (byte)'\r')
            {
                return LineResult.BareLineFeed;
            }

            line = unread[..(lf - 1)];
            reader.Advance(lf + 1);
            return LineResult.Found;
        }

        if (unread.Length == reader.Remaining)
        {
            // Last segment and no LF: incomplete. Report the limit now so a sender cannot make us buffer forever.
            return reader.Remaining >= maxLineWithCrlf ? LineResult.TooLong : LineResult.Incomplete;
        }

        if (!reader.TryReadTo(out ReadOnlySequence<byte> content, (byte)'\n', advancePastDelimiter: true))
        {
            return reader.Remaining >= maxLineWithCrlf ? LineResult.TooLong : LineResult.Incomplete;
        }

        long length = content.Length;
        if (length + 1 > maxLineWithCrlf)
        {
            reader.Rewind(length + 1);
            return LineResult.TooLong;
        }

        if (length == 0 || LastByte(content) != (byte)'\r')
        {
            reader.Rewind(length + 1);
            return LineResult.BareLineFeed;
        }

        multiSegmentLine = content.Slice(0, length - 1);
        return LineResult.FoundMultiSegment;
    }

    /// <summary>Copies a straddling line into <paramref name="scratch"/> when it fits, else into a pooled array kept in <paramref name="rented"/>.</summary>
    public static Span<byte> Flatten(scoped in ReadOnlySequence<byte> line, Span<byte> scratch, ref byte[]? rented)
    {
        int length = (int)line.Length;
        Span<byte> copy;
        if (length <= scratch.Length)
        {
            copy = scratch[..length];
        }
        else
        {
            if (rented is null || rented.Length < length)
            {
                Return(rented);
                rented = ArrayPool<byte>.Shared.Rent(length);
            }

            copy = rented.AsSpan(0, length);
        }

        line.CopyTo(copy);
        return copy;
    }

    public static void Return(byte[]? rented)
    {
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static byte LastByte(in ReadOnlySequence<byte> sequence) => sequence.Slice(sequence.Length - 1).FirstSpan[0];
}
