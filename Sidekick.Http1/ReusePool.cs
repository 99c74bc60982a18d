namespace Sidekick.Http1;

/// <summary>
/// A pool of reusable objects for the request path: a stack behind a short lock, sized for thousands of requests in
/// flight, where the framework's pools (a few items per core) drop most returns. An instance lives in a static
/// field of an exactly-typed owner (no thread-static state in shared generic code: that costs a runtime lookup on
/// every access). Used for message-head buffers, send blocks and the proxy's pooled async state.
/// </summary>
public sealed class ReusePool<T>(int capacity)
    where T : class
{
    private readonly Lock _lock = new();
    private T?[] _items = new T?[Math.Min(capacity, 16)];
    private int _count;

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
                if (_count >= capacity)
                {
                    return;
                }

                Array.Resize(ref _items, Math.Min(capacity, _count * 2));
            }

            _items[_count++] = item;
        }
    }
}
