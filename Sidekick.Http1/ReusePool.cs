namespace Sidekick.Http1;

/// <summary>
/// A pool of reusable objects of one type for the request path: a stack per thread (no synchronisation) that
/// spills to a shared stack behind a short lock. Sized for thousands of requests in flight, where the framework's
/// pools (a few items per core) drop most returns. Used for message-head buffers and for the proxy's pooled
/// async state.
/// </summary>
public static class ReusePool<T>
    where T : class
{
    private const int ThreadCapacity = 64;
    private const int SharedCapacity = 1024;

    [ThreadStatic]
    private static T?[]? t_items;

    [ThreadStatic]
    private static int t_count;

    private static readonly Stack<T> Shared = new();
    private static readonly Lock SharedLock = new();

    /// <summary>Takes a pooled item, if there is one.</summary>
    public static bool TryRent(out T item)
    {
        var items = t_items;
        if (items is not null && t_count > 0)
        {
            item = items[--t_count]!;
            items[t_count] = null;
            return true;
        }

        lock (SharedLock)
        {
            return Shared.TryPop(out item!);
        }
    }

    /// <summary>Gives an item back for reuse (dropped when the pools are full).</summary>
    public static void Return(T item)
    {
        var items = t_items ??= new T?[ThreadCapacity];
        if (t_count < items.Length)
        {
            items[t_count++] = item;
            return;
        }

        lock (SharedLock)
        {
            if (Shared.Count < SharedCapacity)
            {
                Shared.Push(item);
            }
        }
    }
}
