using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Sidekick.Http1;

namespace Sidekick.Core.Threading;

/// <summary>
/// An async method builder for <c>ValueTask&lt;T&gt;</c> methods on the request path whose suspended state machines
/// live in pooled boxes, so a request that waits on its client or backend allocates nothing. The framework's
/// <c>PoolingAsyncValueTaskMethodBuilder</c> keeps one box per thread and per core: with 64 requests in flight
/// almost every box missed its pool (measured: ~1 KB per request). Here boxes go back to a
/// <see cref="ReusePool{T}"/>, sized for thousands of requests in flight.
/// Execution context does not flow across awaits of such a method (as with <c>UnsafeOnCompleted</c>): the proxy
/// uses no AsyncLocal state. A method completing synchronously allocates nothing either (its result is returned
/// in the ValueTask itself).
/// </summary>
internal struct PooledValueTaskBuilder<TResult>
{
    private PooledBox<TResult>? _box;
    private TResult _result;
    private Exception? _exception;

    public static PooledValueTaskBuilder<TResult> Create() => default;

    public readonly ValueTask<TResult> Task =>
        _box is { } box ? new ValueTask<TResult>(box, box.Version)
        : _exception is { } exception ? ValueTask.FromException<TResult>(exception)
        : new ValueTask<TResult>(_result);

    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine => stateMachine.MoveNext();

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
    }

    public void SetResult(TResult result)
    {
        if (_box is null)
        {
            _result = result;
        }
        else
        {
            _box.SetResult(result);
        }
    }

    public void SetException(Exception exception)
    {
        if (_box is null)
        {
            _exception = exception;
        }
        else
        {
            _box.SetException(exception);
        }
    }

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine => awaiter.OnCompleted(GetBox(ref stateMachine).MoveNextAction);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine => awaiter.UnsafeOnCompleted(GetBox(ref stateMachine).MoveNextAction);

    private PooledBox<TResult, TStateMachine> GetBox<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        if (_box is PooledBox<TResult, TStateMachine> existing)
        {
            return existing;
        }

        var box = PooledBox<TResult, TStateMachine>.Rent();
        _box = box; // first: the copy below then carries this builder with its box
        box.StateMachine = stateMachine;
        return box;
    }
}

/// <summary>The awaitable half of a pooled box: a reusable value-task source, back in its pool once awaited.</summary>
internal abstract class PooledBox<TResult> : IValueTaskSource<TResult>
{
    private ManualResetValueTaskSourceCore<TResult> _core; // continuations run inline

    internal short Version => _core.Version;

    internal void SetResult(TResult result) => _core.SetResult(result);

    internal void SetException(Exception exception) => _core.SetException(exception);

    public TResult GetResult(short token)
    {
        if (token != _core.Version)
        {
            throw new InvalidOperationException("a pooled ValueTask was awaited twice");
        }

        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            Return();
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private protected abstract void Return();
}

/// <summary>A box for one async method's state machine, pooled per method.</summary>
internal sealed class PooledBox<TResult, TStateMachine> : PooledBox<TResult>
    where TStateMachine : IAsyncStateMachine
{
    private static readonly ReusePool<PooledBox<TResult, TStateMachine>> Pool = new(4096);

    // A thread's own boxes in front of the shared pool: a request calls each pooled method about once, on one loop
    // thread, so most rents and returns take no lock. (Release state machines are structs: each instantiation has
    // its own code, and the thread-static costs no runtime lookup.)
    [ThreadStatic]
    private static ThreadCache<PooledBox<TResult, TStateMachine>>? t_cache;

    public TStateMachine StateMachine = default!;

    private PooledBox() => MoveNextAction = MoveNext;

    public Action MoveNextAction { get; }

    public static PooledBox<TResult, TStateMachine> Rent()
    {
        return Pool.TryRent(ref t_cache, out var box) ? box : new PooledBox<TResult, TStateMachine>();
    }

    private protected override void Return()
    {
        StateMachine = default!;
        Pool.Return(ref t_cache, this);
    }

    private void MoveNext() => StateMachine.MoveNext();
}
