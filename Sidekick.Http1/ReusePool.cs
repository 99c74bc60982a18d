using System.Runtime.CompilerServices;

namespace Sidekick.Http1;

/// <summary>
/// A pool of reusable objects for the request path: a stack behind a short lock, sized for thousands of requests in
/// flight, where the framework's pools (a few items per core) drop most returns. An instance lives in a static
/// field of an exactly-typed owner (no thread-static state in shared generic code: that costs a runtime lookup on
/// every access). Used for message-head buffers, send blocks and the proxy's pooled async state. In front of it,
/// each thread keeps a <see cref="ThreadCache{T}"/> (the owner's thread-static field, passed by ref), so most rents
/// and returns take no lock.
/// </summary>
public sealed class ReusePool<T>
    where T : class
{
    private readonly Lock _lock = new();
    private readonly int _capacity;
    private T?[] _items;
    private int _count;

    /// <summary>A pool that keeps at most <paramref name="capacity"/> items.</summary>
    public ReusePool(int capacity)
    {
        _capacity = capacity;
        _items = new T?[Math.Min(capacity, 16)];
        ReusePools.Register(Clear);
    }

    /// <summary>Drops every pooled item (the garbage collector takes them).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _items = new T?[Math.Min(_capacity, 16)];
            _count = 0;
        }
    }

    /// <summary>Takes an item from this thread's cache (<paramref name="local"/>), else from the shared pool, if there is one.</summary>
    public bool TryRent(ref ThreadCache<T>? local, out T item)
    {
        if (local is { } cache && cache.TryTake(out item))
        {
            return true;
        }

        return TryRent(out item);
    }

    /// <summary>Gives an item back to this thread's cache (<paramref name="local"/>), or to the shared pool when that is full.</summary>
    public void Return(ref ThreadCache<T>? local, T item)
    {
        var cache = local ??= ThreadCaches.Create<T>();
        if (!cache.TryKeep(item))
        {
            Return(item);
        }
    }

    /// <summary>Takes a pooled item, if there is one.</summary>
    public bool TryRent(out T item)
    {
        lock (_lock)
        {
            if (_count > 0)
            {
                item = _items[--_count]!;
                _items[_count] = null;
                return true;
            }
        }

        item = null!;
        return false;
    }

    /// <summary>Gives an item back for reuse (dropped when the pool is full).</summary>
    public void Return(T item)
    {
        lock (_lock)
        {
            if (_count == _items.Length)
            {
                if (_count >= _capacity)
                {
                    return;
                }

                Array.Resize(ref _items, Math.Min(_capacity, _count * 2));
            }

            _items[_count++] = item;
        }
    }
}

/// <summary>Every <see cref="ReusePool{T}"/> of the process, to empty them all when the process goes idle.</summary>
public static class ReusePools
{
    private static readonly Lock Lock = new();
    private static readonly List<Action> Clears = [];

    internal static void Register(Action clear)
    {
        lock (Lock)
        {
            Clears.Add(clear);
        }
    }

    /// <summary>
    /// Empties every pool: after a burst of load, what the pools kept can go back to the system. A thread's own
    /// caches are its own to empty (<see cref="ThreadCaches.TrimThisThread"/>: an event loop does when idle).
    /// </summary>
    public static void ClearAll()
    {
        Action[] clears;
        lock (Lock)
        {
            clears = [.. Clears];
        }

        foreach (var clear in clears)
        {
            clear();
        }
    }
}

/// <summary>
/// The items of one <see cref="ReusePool{T}"/> that one thread keeps for itself: touched by that thread only, so a rent
/// or a return costs no lock and no interlocked instruction. An event loop runs the requests of a whole batch of
/// events between two waits, each renting and returning several items, so its caches are large
/// (<see cref="ThreadCaches.UseLargeCaches"/>); any other thread keeps a few.
/// </summary>
public sealed class ThreadCache<T> : ThreadCaches.ICache
    where T : class
{
    private readonly object?[] _items; // object[], not T[]: a store needs no covariance check
    private int _count;

    internal ThreadCache(int capacity) => _items = new object?[capacity];

    /// <summary>How many items the cache holds (for tests).</summary>
    internal int Count => _count;

    int ThreadCaches.ICache.Count => _count;

    internal bool TryTake(out T item)
    {
        if (_count == 0)
        {
            item = null!;
            return false;
        }

        var i = --_count;
        item = Unsafe.As<T>(_items[i])!;
        _items[i] = null;
        return true;
    }

    internal bool TryKeep(T item)
    {
        if (_count == _items.Length)
        {
            return false;
        }

        _items[_count++] = item;
        return true;
    }

    /// <inheritdoc />
    public void Trim()
    {
        Array.Clear(_items, 0, _count);
        _count = 0;
    }
}

/// <summary>The <see cref="ThreadCache{T}"/>s of the calling thread: their size, and emptying them when the thread is idle.</summary>
public static class ThreadCaches
{
    /// <summary>Items a thread keeps per pool.</summary>
    public const int Small = 4;

    /// <summary>Items an event loop's thread keeps per pool: enough for the requests of a large batch of events.</summary>
    public const int Large = 64;

    [ThreadStatic]
    private static bool t_large;

    [ThreadStatic]
    private static List<ICache>? t_caches;

    /// <summary>A thread's cache of one pool.</summary>
    internal interface ICache
    {
        /// <summary>How many items the cache holds.</summary>
        int Count { get; }

        /// <summary>Drops every item (the garbage collector takes them).</summary>
        void Trim();
    }

    /// <summary>
    /// Gives the calling thread large caches (<see cref="Large"/>): for an event loop, which runs many requests between
    /// two waits and must call <see cref="TrimThisThread"/> when it goes idle, as another thread cannot empty them.
    /// </summary>
    public static void UseLargeCaches() => t_large = true;

    /// <summary>How many items the calling thread's caches hold (for tests).</summary>
    internal static int ItemsOnThisThread
    {
        get
        {
            var n = 0;
            foreach (var cache in t_caches ?? [])
            {
                n += cache.Count;
            }

            return n;
        }
    }

    /// <summary>Empties the calling thread's caches, so what they held can go back to the system.</summary>
    public static void TrimThisThread()
    {
        if (t_caches is { } caches)
        {
            foreach (var cache in caches)
            {
                cache.Trim();
            }
        }
    }

    internal static ThreadCache<T> Create<T>()
        where T : class
    {
        var cache = new ThreadCache<T>(t_large ? Large : Small);
        (t_caches ??= []).Add(cache);
        return cache;
    }
}
