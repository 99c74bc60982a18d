namespace Sidekick.Http1;

/// <summary>
/// Arrays of one length for message heads, reused through <see cref="ReusePool{T}"/> (the shared ArrayPool keeps
/// a few arrays per core: with 64 requests in flight most returns were dropped and rents allocated again, 100 to
/// 200 B per request). Other lengths (a head larger than usual) come from, and go back to, the shared ArrayPool.
/// </summary>
internal static class BlockPool<T>
{
    /// <summary>Rents an array of exactly <paramref name="pooledLength"/> when that is enough, else at least <paramref name="length"/>.</summary>
    public static T[] Rent(int length, int pooledLength) =>
        length > pooledLength ? System.Buffers.ArrayPool<T>.Shared.Rent(length)
        : ReusePool<T[]>.TryRent(out var block) ? block
        : new T[pooledLength];

    public static void Return(T[] block, int pooledLength)
    {
        if (block.Length == pooledLength)
        {
            ReusePool<T[]>.Return(block);
        }
        else if (block.Length > 0)
        {
            System.Buffers.ArrayPool<T>.Shared.Return(block);
        }
    }
}
