using Sidekick.Core.Transport.Epoll;
using Sidekick.Http1;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Core;

/// <summary>
/// The per-thread caches in front of the shared pools: a thread takes back what it gave without the shared pool's
/// lock, an event loop's thread keeps enough for a batch of requests, and a loop empties its caches when idle.
/// </summary>
public class ThreadCacheTests
{
    private static T OnNewThread<T>(Func<T> body)
    {
        var result = default(T);
        var thread = new Thread(() => result = body());
        thread.Start();
        thread.Join(TimeSpan.FromSeconds(10)).ShouldBeTrue("the thread did not end");
        return result!;
    }

    [Test]
    public void A_thread_takes_back_what_it_gave_and_the_shared_pool_gets_the_rest()
    {
        var pool = new ReusePool<object>(100);
        var items = Enumerable.Range(0, ThreadCaches.Small + 3).Select(_ => new object()).ToArray();
        var (kept, firstBack, shared) = OnNewThread(() =>
        {
            ThreadCache<object>? local = null;
            foreach (var item in items)
            {
                pool.Return(ref local, item);
            }

            var keptCount = local!.Count;
            pool.TryRent(ref local, out var back).ShouldBeTrue();
            var sharedCount = 0;
            while (pool.TryRent(out _) && sharedCount < 100)
            {
                sharedCount++;
            }

            return (keptCount, back, sharedCount);
        });

        kept.ShouldBe(ThreadCaches.Small);
        firstBack.ShouldBeSameAs(items[ThreadCaches.Small - 1], "the thread's own last item comes back first");
        shared.ShouldBe(3, "what the thread could not keep went to the shared pool");
    }

    [Test]
    public void A_thread_with_large_caches_keeps_more_and_a_trim_drops_them_without_filling_the_shared_pool()
    {
        var pool = new ReusePool<object>(1000);
        var (kept, onThread, afterTrim, shared) = OnNewThread(() =>
        {
            ThreadCaches.UseLargeCaches();
            ThreadCache<object>? local = null;
            for (var i = 0; i < ThreadCaches.Large + 5; i++)
            {
                pool.Return(ref local, new object());
            }

            var keptCount = local!.Count;
            var items = ThreadCaches.ItemsOnThisThread;
            ThreadCaches.TrimThisThread();
            var trimmed = ThreadCaches.ItemsOnThisThread;
            var sharedCount = 0;
            while (pool.TryRent(out _) && sharedCount < 1000)
            {
                sharedCount++;
            }

            return (keptCount, items, trimmed, sharedCount);
        });

        kept.ShouldBe(ThreadCaches.Large);
        onThread.ShouldBe(ThreadCaches.Large);
        afterTrim.ShouldBe(0);
        shared.ShouldBe(5);
    }

    [Test]
    [NonParallelizable] // needs the loop to go idle
    public async Task An_epoll_loop_keeps_a_batch_worth_of_blocks_and_empties_its_caches_when_idle()
    {
        var idleTrimAfter = EpollEngine.IdleTrimAfter;
        EpollEngine.IdleTrimAfter = 100;
        var (transport, peer, listener) = await EpollLoop.PairAsync();
        using var _ = listener;
        using var __ = peer;
        try
        {
            const int Blocks = 20; // more than a thread that is not a loop keeps
            var before = 0;
            var thread = await EpollLoop.OnLoopAsync(transport, peer, () =>
            {
                var blocks = Enumerable.Range(0, Blocks).Select(_ => BlockPool<byte>.Rent(1)).ToArray();
                foreach (var block in blocks)
                {
                    BlockPool<byte>.Return(block);
                }

                before = ThreadCaches.ItemsOnThisThread;
            });
            before.ShouldBeGreaterThanOrEqualTo(Blocks, "the loop's thread did not keep the blocks");

            // Each look is an event on the loop; the loop trims 100 ms after its last one (bounded: 30 looks).
            var after = int.MaxValue;
            for (var i = 0; i < 30 && after >= Blocks / 2; i++)
            {
                await Task.Delay(300);
                var threadAfter = await EpollLoop.OnLoopAsync(transport, peer, () => after = ThreadCaches.ItemsOnThisThread);
                threadAfter.ShouldBe(thread);
            }

            after.ShouldBeLessThan(Blocks / 2, "the idle loop kept its caches");
        }
        finally
        {
            EpollEngine.IdleTrimAfter = idleTrimAfter;
            transport.Dispose();
        }
    }
}
