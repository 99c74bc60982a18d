using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using Sidekick.Core.Transport;
using Sidekick.Core.Upstream;
using Sidekick.Tests.Http1;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Core;

/// <summary>
/// Write-behind on our epoll loop: a small flush made on the loop's thread while it runs a batch of events completes
/// at once, and its bytes leave at the end of the iteration with the other connections' (one wake-up of a peer per
/// burst). Each test enters the loop with <see cref="EpollLoop.OnLoopAsync"/>.
/// </summary>
public class WriteBehindTests
{
    private int _writeBehindFrom;

    // Every batch of events is written behind here, however small (the tests' batches hold one event each).
    [OneTimeSetUp]
    public void WriteBehindOnEveryBatch()
    {
        _writeBehindFrom = Sidekick.Core.Transport.Epoll.EpollEngine.WriteBehindFrom;
        Sidekick.Core.Transport.Epoll.EpollEngine.WriteBehindFrom = 1;
    }

    [OneTimeTearDown]
    public void WriteBehindAsBefore() => Sidekick.Core.Transport.Epoll.EpollEngine.WriteBehindFrom = _writeBehindFrom;

    [Test]
    public async Task Small_flushes_on_the_loop_complete_at_once_and_their_bytes_leave_together_at_the_end_of_the_iteration()
    {
        var (transport, peer, listener) = await EpollLoop.PairAsync();
        using var _ = listener;
        using var __ = peer;
        var completed = false;
        var sentMeanwhile = -1;

        var thread = await EpollLoop.OnLoopAsync(transport, peer, () =>
        {
            transport.Output.Write("one"u8);
            var first = transport.Output.FlushAsync();
            transport.Output.Write("two"u8);
            var second = transport.Output.FlushAsync();
            completed = first.IsCompletedSuccessfully && second.IsCompletedSuccessfully;
            sentMeanwhile = peer.Available;
        });

        thread.ShouldNotBeNull().ShouldStartWith("sidekick epoll");
        completed.ShouldBeTrue();
        sentMeanwhile.ShouldBe(0, "sent before the end of the iteration");
        await transport.Output.CompleteAsync();
        Encoding.ASCII.GetString(await TestSockets.ReceiveToEndAsync(peer, 1 << 20)).ShouldBe("onetwo");
        transport.Dispose();
    }

    [Test]
    public async Task A_batch_of_fewer_events_than_WriteBehindFrom_sends_at_once()
    {
        var (transport, peer, listener) = await EpollLoop.PairAsync();
        using var _ = listener;
        using var __ = peer;
        var sentMeanwhile = -1;
        Sidekick.Core.Transport.Epoll.EpollEngine.WriteBehindFrom = 8; // the default: a batch of one event is too few
        try
        {
            var thread = await EpollLoop.OnLoopAsync(transport, peer, () =>
            {
                transport.Output.Write("now"u8);
                transport.Output.FlushAsync().IsCompletedSuccessfully.ShouldBeTrue();
                sentMeanwhile = peer.Available;
            });

            thread.ShouldNotBeNull().ShouldStartWith("sidekick epoll");
            sentMeanwhile.ShouldBe(3, "held back in a batch of one event");
        }
        finally
        {
            Sidekick.Core.Transport.Epoll.EpollEngine.WriteBehindFrom = 1;
        }

        transport.Dispose();
    }

    [Test]
    public async Task A_flush_that_cannot_wait_sends_what_write_behind_queued_first()
    {
        var (transport, peer, listener) = await EpollLoop.PairAsync();
        using var _ = listener;
        using var __ = peer;
        var random = new Random(21);
        var big = new byte[40_000]; // more than write-behind holds back
        var borrowed = new byte[3000];
        random.NextBytes(big);
        random.NextBytes(borrowed);
        var reading = TestSockets.ReceiveToEndAsync(peer, 1 << 20);
        bool deferred = false, deferredAgain = false, took = false;
        Task? large = null, withBorrowed = null;

        var thread = await EpollLoop.OnLoopAsync(transport, peer, () =>
        {
            transport.Output.Write("a"u8);
            deferred = transport.Output.FlushAsync().IsCompletedSuccessfully;
            transport.Output.Write(big);
            large = transport.Output.FlushAsync().AsTask();
            transport.Output.Write("b"u8);
            deferredAgain = transport.Output.FlushAsync().IsCompletedSuccessfully;
            took = transport.TryWriteBorrowed(TestBuffers.Chain([borrowed]));
            withBorrowed = transport.Output.FlushAsync().AsTask();
        });

        thread.ShouldNotBeNull().ShouldStartWith("sidekick epoll");
        deferred.ShouldBeTrue();
        deferredAgain.ShouldBeTrue();
        took.ShouldBeTrue();
        await large!.WaitAsync(TimeSpan.FromSeconds(20));
        await withBorrowed!.WaitAsync(TimeSpan.FromSeconds(20));
        await transport.Output.CompleteAsync();
        var expected = new MemoryStream();
        expected.Write("a"u8);
        expected.Write(big);
        expected.Write("b"u8);
        expected.Write(borrowed);
        var received = await reading;
        received.Length.ShouldBe((int)expected.Length);
        received.AsSpan().SequenceEqual(expected.ToArray()).ShouldBeTrue("bytes changed or out of order");
        transport.Dispose();
    }

    [Test]
    public async Task A_flush_from_another_thread_as_the_loop_ends_its_iteration_keeps_the_order()
    {
        var (transport, peer, listener) = await EpollLoop.PairAsync();
        using var _ = listener;
        using var __ = peer;
        var reading = TestSockets.ReceiveToEndAsync(peer, 1 << 20);
        var expected = new MemoryStream();
        var onLoop = 0;
        var deferred = 0;

        // The other thread's flush races the loop's send of what was queued: either may go first, each time.
        for (var round = 0; round < 200; round++)
        {
            var tag = (byte)round;
            Task? other = null;
            var thread = await EpollLoop.OnLoopAsync(transport, peer, () =>
            {
                transport.Output.Write([tag, (byte)'x']);
                deferred += transport.Output.FlushAsync().IsCompletedSuccessfully ? 1 : 0;
                other = Task.Run(async () =>
                {
                    transport.Output.Write([tag, (byte)'y']);
                    await transport.Output.FlushAsync();
                });
            });

            onLoop += thread?.StartsWith("sidekick epoll", StringComparison.Ordinal) == true ? 1 : 0;
            await other!.WaitAsync(TimeSpan.FromSeconds(10));
            expected.Write([tag, (byte)'x', tag, (byte)'y']);
        }

        await transport.Output.CompleteAsync();
        var received = await reading;
        onLoop.ShouldBe(200);
        deferred.ShouldBe(200);
        received.ShouldBe(expected.ToArray());
        transport.Dispose();
    }

    [Test]
    public async Task A_write_behind_send_that_finds_the_buffer_full_holds_the_next_flush_until_the_peer_reads()
    {
        var (transport, peer, listener, rounds) = await StuckAsync();
        using var _ = listener;
        using var __ = peer;
        ValueTask<FlushResult> held = default;

        // The next flush on the loop's thread waits for that send; once the peer reads, it completes and its bytes
        // follow (written behind again, from the loop), and the completion sends them before the FIN.
        await EpollLoop.OnLoopAsync(transport, peer, () =>
        {
            transport.Output.Write(Enumerable.Repeat((byte)rounds, ChunkSize).ToArray());
            held = transport.Output.FlushAsync();
        });

        held.IsCompleted.ShouldBeFalse();
        var reading = TestSockets.ReceiveToEndAsync(peer, 64 << 20);
        (await held.AsTask().WaitAsync(TimeSpan.FromSeconds(20))).IsCanceled.ShouldBeFalse();
        await transport.Output.CompleteAsync();
        var received = await reading;

        received.Length.ShouldBe((rounds + 1) * ChunkSize);
        for (var i = 0; i <= rounds; i++)
        {
            received.AsSpan(i * ChunkSize, ChunkSize).IndexOfAnyExcept((byte)i).ShouldBe(-1, $"chunk {i} changed or out of order");
        }

        transport.Dispose();
    }

    [Test]
    public async Task Completing_or_disposing_sends_what_write_behind_queued_before_the_end()
    {
        foreach (var dispose in new[] { false, true })
        {
            var (transport, peer, listener) = await EpollLoop.PairAsync();
            using var _ = listener;
            using var __ = peer;
            var reading = TestSockets.ReceiveToEndAsync(peer, 1 << 20);
            var deferred = false;
            Task? completing = null;

            var thread = await EpollLoop.OnLoopAsync(transport, peer, () =>
            {
                transport.Output.Write("bye"u8);
                deferred = transport.Output.FlushAsync().IsCompletedSuccessfully;
                if (dispose)
                {
                    transport.Dispose();
                }
                else
                {
                    completing = transport.Output.CompleteAsync().AsTask();
                }
            });

            thread.ShouldNotBeNull().ShouldStartWith("sidekick epoll");
            deferred.ShouldBeTrue();
            if (completing is not null)
            {
                await completing.WaitAsync(TimeSpan.FromSeconds(10));
            }

            Encoding.ASCII.GetString(await reading).ShouldBe("bye", dispose ? "after Dispose" : "after CompleteAsync");
            transport.Dispose();
        }
    }

    [Test]
    public async Task A_write_behind_send_that_fails_fails_the_next_flush_even_with_nothing_to_send()
    {
        var (transport, peer, listener) = await EpollLoop.PairAsync();
        using var _ = listener;
        var deferred = false;

        var thread = await EpollLoop.OnLoopAsync(transport, peer, () =>
        {
            peer.LingerState = new LingerOption(true, 0);
            peer.Dispose(); // RST: the send at the end of the iteration fails
            transport.Output.Write(new byte[1024]);
            deferred = transport.Output.FlushAsync().IsCompletedSuccessfully;
        });
        await Task.Delay(100);

        thread.ShouldNotBeNull().ShouldStartWith("sidekick epoll");
        deferred.ShouldBeTrue();
        await Should.ThrowAsync<SocketException>(async () => await transport.Output.FlushAsync());
        (await transport.Output.FlushAsync()).IsCanceled.ShouldBeFalse(); // reported once
        transport.Dispose();
    }

    private const int ChunkSize = 8192;

    private static int LaterState(SocketWriter writer) =>
        (int)typeof(SocketWriter).GetField("_later", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(writer)!;

    /// <summary>
    /// A pair with small socket buffers whose write-behind send stays in flight (see
    /// <see cref="FillUntilAWriteBehindSendStaysAsync"/>), and the number of chunks written.
    /// </summary>
    private static async Task<(SocketTransport Transport, Socket Peer, Socket Listener, int Rounds)> StuckAsync()
    {
        var (transport, peer, listener) = await EpollLoop.PairAsync(sendBufferSize: 4096);
        peer.ReceiveBufferSize = 4096;
        return (transport, peer, listener, await FillUntilAWriteBehindSendStaysAsync(transport, peer));
    }

    /// <summary>
    /// Writes an 8 KiB chunk on the loop, one per iteration, while the peer reads nothing, until a send made at the end
    /// of an iteration stays in flight. Returns how many chunks were written (bounded: 4,096).
    /// </summary>
    private static async Task<int> FillUntilAWriteBehindSendStaysAsync(SocketTransport transport, Socket peer)
    {
        var writer = (SocketWriter)transport.Output;
        var chunk = new byte[ChunkSize];
        for (var round = 0; round < 4096; round++)
        {
            var deferred = false;
            await EpollLoop.OnLoopAsync(transport, peer, () =>
            {
                Array.Fill(chunk, (byte)round);
                transport.Output.Write(chunk);
                deferred = transport.Output.FlushAsync().IsCompletedSuccessfully;
            });
            deferred.ShouldBeTrue();
            for (var i = 0; i < 400 && LaterState(writer) != 0; i++)
            {
                await Task.Delay(5); // until the loop has ended its iteration
            }

            if (transport.OutputPending)
            {
                return round + 1;
            }
        }

        throw new AssertionException("the socket buffers never filled");
    }

    [Test]
    public async Task A_flush_waiting_for_a_write_behind_send_is_woken_by_CancelPendingFlush()
    {
        var (transport, peer, listener, rounds) = await StuckAsync();
        using var _ = listener;
        using var __ = peer;

        transport.Output.Write("x"u8);
        var waiting = transport.Output.FlushAsync();
        waiting.IsCompleted.ShouldBeFalse();
        transport.Output.CancelPendingFlush();

        (await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10))).IsCanceled.ShouldBeTrue();
        transport.Dispose();
    }

    [Test]
    public async Task A_backend_connection_whose_write_behind_send_is_stuck_is_not_reused_until_it_has_gone()
    {
        var (transport, peer, listener, rounds) = await StuckAsync();
        using var _ = listener;
        using var __ = peer;
        var pooled = new UpstreamConnection(transport, null!);

        pooled.LooksHealthy().ShouldBeFalse("a request on it would wait behind the stuck bytes");

        // The peer reads what was sent (the 'sent' bytes: 8 KiB per round); then the connection is fit again.
        var buffer = new byte[64 * 1024];
        var received = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (received < rounds * ChunkSize)
        {
            received += await peer.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        }

        for (var i = 0; i < 400 && transport.OutputPending; i++)
        {
            await Task.Delay(5);
        }

        pooled.LooksHealthy().ShouldBeTrue();
        transport.Dispose();
    }

    [Test]
    public async Task A_flush_that_fails_while_waiting_for_a_write_behind_send_lets_go_of_borrowed_memory()
    {
        var (transport, peer, listener, rounds) = await StuckAsync();
        using var _ = listener;
        var borrowed = new byte[64];

        transport.TryWriteBorrowed(TestBuffers.Chain([borrowed])).ShouldBeTrue(); // the send in flight is not of it
        var waiting = transport.Output.FlushAsync();
        waiting.IsCompleted.ShouldBeFalse();
        peer.LingerState = new LingerOption(true, 0);
        peer.Dispose(); // RST: the send in flight fails, and so does the flush waiting for it
        await Should.ThrowAsync<SocketException>(async () => await waiting.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

        // Its caller takes the memory back now; the writer must hold none of it for a later flush.
        var queued = (List<ArraySegment<byte>>?)typeof(SocketWriter).GetField("_blocks", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(transport.Output);
        (queued?.Count(block => ReferenceEquals(block.Array, borrowed)) ?? 0).ShouldBe(0);
        transport.Dispose();
    }
}
