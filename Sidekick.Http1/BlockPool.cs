namespace Sidekick.Http1;

/// <summary>
/// Arrays of one length per element type (<see cref="Length"/>), reused through <see cref="ReusePool{T}"/>: the
/// shared ArrayPool keeps a few arrays per core, so with 64 requests in flight most returns were dropped and rents
/// allocated again (100 to 200 B per request). Longer arrays come from, and go back to, the shared ArrayPool.
/// Byte blocks serve message heads and the socket transport's send buffers.
/// </summary>
public static class BlockPool<T>
{
    /// <summary>The pooled length: 4 KiB of bytes, 16 of anything else (header slots).</summary>
    public static readonly int Length = typeof(T) == typeof(byte) ? 4096 : 16;

    private static readonly ReusePool<T[]> Pool = new(4096);

    /// <summary>Rents an array of exactly <see cref="Length"/> when that is enough, else one of at least <paramref name="minimum"/>.</summary>
    public static T[] Rent(int minimum) =>
        minimum > Length ? System.Buffers.ArrayPool<T>.Shared.Rent(minimum)
        : Pool.TryRent(out var block) ? block
        : new T[Length];

    /// <summary>Gives back an array from <see cref="Rent"/>.</summary>
    public static void Return(T[] block)
    {
        if (block.Length == Length)
        {
            Pool.Return(block);
        }
        else if (block.Length > 0)
        {
            System.Buffers.ArrayPool<T>.Shared.Return(block);
        }
    }
}
