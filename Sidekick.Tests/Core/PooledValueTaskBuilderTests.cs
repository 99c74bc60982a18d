using System.Runtime.CompilerServices;
using Sidekick.Core.Threading;

namespace Sidekick.Tests.Core;

/// <summary>The pooled async method builder the request path uses (issue 7: no allocation per request).</summary>
public class PooledValueTaskBuilderTests
{
    [Test]
    public async Task A_method_that_completes_synchronously_returns_its_value_without_a_box()
    {
        var task = Add(1, 2, null);

        task.IsCompletedSuccessfully.ShouldBeTrue();
        (await task).ShouldBe(3);
    }

    [Test]
    public async Task A_suspended_method_resumes_and_returns_its_value()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var task = Add(2, 3, gate.Task);
        task.IsCompleted.ShouldBeFalse();

        gate.SetResult();

        (await task).ShouldBe(5);
    }

    [Test]
    public async Task Exceptions_surface_at_the_await_both_synchronously_and_after_a_suspension()
    {
        await Should.ThrowAsync<InvalidDataException>(async () => await Fail(null));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var task = Fail(gate.Task);
        gate.SetResult();
        await Should.ThrowAsync<InvalidDataException>(async () => await task);
    }

    [Test]
    public async Task Boxes_are_reused_so_steady_state_allocates_nothing()
    {
        var pooled = await BytesPerCall(RoundTrip);
        var framework = await BytesPerCall(RoundTripWithTheDefaultBuilder);

        // The default builder allocates a box (over 100 B) per suspended call; the pooled one reuses its boxes.
        // A Debug build still allocates the compiler's state machine object per call, so compare with the twin.
        pooled.ShouldBeLessThan(framework - 64);
#if !DEBUG
        pooled.ShouldBe(0);
#endif
    }

    private static async Task<long> BytesPerCall(Func<int, ValueTask<int>> method)
    {
        for (var i = 0; i < 100; i++)
        {
            await method(i); // warm up: the first suspensions create boxes, later ones reuse them
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var sum = 0;
        for (var i = 0; i < 1000; i++)
        {
            sum += await method(i); // completes before the await: the loop stays on this thread
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        sum.ShouldBe(Enumerable.Range(0, 1000).Sum());
        return allocated / 1000;
    }

    [Test]
    public async Task Many_methods_in_flight_at_once_each_get_their_own_box()
    {
        var gates = Enumerable.Range(0, 500).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        var tasks = gates.Select((g, i) => Add(i, 1, g.Task).AsTask()).ToArray();
        foreach (var gate in gates.Reverse())
        {
            gate.SetResult();
        }

        var results = await Task.WhenAll(tasks);
        results.ShouldBe(Enumerable.Range(1, 500));
    }

    [Test]
    public async Task Awaiting_a_pooled_task_twice_is_refused()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var task = Add(1, 1, gate.Task);
        gate.SetResult();
        (await task).ShouldBe(2);
        await Should.ThrowAsync<InvalidOperationException>(async () => await task);
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private static async ValueTask<int> Add(int a, int b, Task? gate)
    {
        if (gate is not null)
        {
            await gate.ConfigureAwait(false);
        }

        return a + b;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private static async ValueTask<int> Fail(Task? gate)
    {
        if (gate is not null)
        {
            await gate.ConfigureAwait(false);
        }

        throw new InvalidDataException("boom");
    }

    private static readonly YieldingSource Source = new();

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private static async ValueTask<int> RoundTrip(int value)
    {
        await Source; // always suspends, resumes inline on this thread
        return value;
    }

    private static async ValueTask<int> RoundTripWithTheDefaultBuilder(int value)
    {
        await Source;
        return value;
    }

    /// <summary>An awaitable that always suspends and resumes at once on the same thread, allocating nothing.</summary>
    private sealed class YieldingSource : ICriticalNotifyCompletion
    {
        public YieldingSource GetAwaiter() => this;

        public bool IsCompleted => false;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) => continuation();

        public void UnsafeOnCompleted(Action continuation) => continuation();
    }
}
