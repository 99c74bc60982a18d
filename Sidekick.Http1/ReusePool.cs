namespace Sidekick.Http1;

/// <summary>
/// A pool of reusable objects for the request path: a stack behind a short lock, sized for thousands of requests in
/// flight, where the framework's pools (a few items per core) drop most returns. An instance lives in a static
/// field of an exactly-typed owner (no thread-static state in shared generic code: that costs a runtime lookup on
/// every access). Used for message-head buffers, send blocks and the proxy's pooled async state.
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

    /// <summary>Empties every pool: after a burst of load, what the pools kept can go back to the system.</summary>
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
