using System.Buffers;
using System.Text;

namespace Sidekick.Tests.Http1;

/// <summary>Builds single- and multi-segment sequences from ASCII text.</summary>
internal static class TestBuffers
{
    public static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    public static string Text(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    public static ReadOnlySequence<byte> Single(string text) => new(Bytes(text));

    /// <summary>Splits the bytes at the given offsets into separate segments (empty segments allowed).</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] cuts)
    {
        var pieces = new List<byte[]>();
        int start = 0;
        foreach (int cut in cuts)
        {
            pieces.Add(bytes[start..cut]);
            start = cut;
        }

        pieces.Add(bytes[start..]);
        return Chain(pieces);
    }

    /// <summary>One segment per byte.</summary>
    public static ReadOnlySequence<byte> ByteByByte(byte[] bytes) => Chain(bytes.Select(b => new[] { b }).ToList());

    /// <summary>One segment per array, the arrays themselves (not copies).</summary>
    public static ReadOnlySequence<byte> Chain(IReadOnlyList<byte[]> pieces)
    {
        var first = new Segment(pieces[0], 0);
        Segment last = first;
        for (int i = 1; i < pieces.Count; i++)
        {
            last = last.Append(pieces[i]);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes, long runningIndex)
        {
            Memory = bytes;
            RunningIndex = runningIndex;
        }

        public Segment Append(byte[] bytes)
        {
            var next = new Segment(bytes, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
