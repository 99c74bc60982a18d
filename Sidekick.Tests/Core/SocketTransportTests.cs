using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Sidekick.Core.Transport;
using Sidekick.Tests.Http1;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Core;

/// <summary>
/// The hand-rolled socket transport, on both engines (our epoll loop and the runtime's sockets): sends on flush
/// (gather writes), back-pressure, FIN on complete, reads to the end, connects.
/// </summary>
[TestFixture("epoll")]
[TestFixture("runtime")]
public class SocketTransportTests(string engineName)
{
    private readonly SocketEngine _engine = engineName == "epoll" ? SocketEngine.Epoll : SocketEngine.Runtime;

    private async Task<(SocketTransport Transport, Socket Peer, Socket Listener)> PairAsync()
    {
        var listener = TestSockets.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var transport = await SocketTransport.ConnectAsync(client, (IPEndPoint)listener.LocalEndPoint!, _engine, CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var peer = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10));
        return (transport, peer, listener);
    }

    /// <summary>Reads the transport's input to its end (bounded: 20 s, 1 MiB).</summary>
    private static async Task<byte[]> ReadInputToEndAsync(SocketTransport transport)
    {
        var all = new MemoryStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (all.Length < 1 << 20)
        {
            var result = await transport.Input.ReadAsync(timeout.Token);
            foreach (var segment in result.Buffer)
            {
                all.Write(segment.Span);
            }

            transport.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        return all.ToArray();
    }

    [Test]
    public async Task Writes_spanning_many_blocks_arrive_whole_and_in_order_then_a_fin()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        using var __ = peer;
        var expected = new byte[300_000];
        new Random(7).NextBytes(expected);

        // Writes of odd sizes, several blocks per flush (a gather write), several flushes.
        var offset = 0;
        var sizes = new[] { 1, 100, 4095, 4096, 4097, 20_000, 70_000 };
        for (var i = 0; offset < expected.Length; i++)
        {
            var n = Math.Min(sizes[i % sizes.Length], expected.Length - offset);
            transport.Output.Write(expected.AsSpan(offset, n));
            offset += n;
            if (i % 3 == 2)
            {
                await transport.Output.FlushAsync();
            }
        }

        var reading = TestSockets.ReceiveToEndAsync(peer, expected.Length);
        await transport.Output.CompleteAsync(); // sends the rest, then FIN
        var received = await reading;

        received.ShouldBe(expected);
        transport.Dispose();
    }

    [Test]
    public async Task Borrowed_memory_goes_out_in_order_with_copied_writes_and_is_free_again_once_the_flush_completes()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        using var __ = peer;
        var random = new Random(11);
        var expected = new MemoryStream();
        var reading = TestSockets.ReceiveToEndAsync(peer, 64 << 20);
        for (var round = 0; round < 8; round++)
        {
            // A copied head, then borrowed pieces in several segments (one of them empty), then a copied tail.
            var head = new byte[100 + round];
            random.NextBytes(head);
            var pieces = new[] { new byte[5000], Array.Empty<byte>(), new byte[300_000], new byte[1] };
            foreach (var piece in pieces)
            {
                random.NextBytes(piece);
            }

            var tail = new byte[7];
            random.NextBytes(tail);
            transport.Output.Write(head);
            // Every other round as "more follows" (MSG_MORE, a gather send with flags on the epoll engine).
            transport.TryWriteBorrowed(TestBuffers.Chain(pieces), moreFollows: round % 2 == 0).ShouldBeTrue();
            transport.Output.Write(tail);
            expected.Write(head);
            foreach (var piece in pieces)
            {
                expected.Write(piece);
            }

            expected.Write(tail);
            (await transport.Output.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20))).IsCompleted.ShouldBeFalse();

            // Once the flush has completed the kernel has every byte: the caller may reuse its memory at once.
            foreach (var piece in pieces)
            {
                Array.Fill(piece, (byte)0xEE);
            }
        }

        await transport.Output.CompleteAsync();
        var received = await reading;

        received.Length.ShouldBe((int)expected.Length);
        received.AsSpan().SequenceEqual(expected.ToArray()).ShouldBeTrue("bytes changed or out of order");
        transport.Dispose();
    }

    [Test]
    public async Task A_piece_sent_as_more_follows_arrives_whole_without_a_next_piece()
    {
        // At least one packet of the largest MSS (loopback's), as the proxy sends them: part of it goes out at once,
        // and the acknowledgement of that part releases the rest, though no next piece comes.
        const int length = 70_000;
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        using var __ = peer;
        var piece = new byte[length];
        new Random(5).NextBytes(piece);

        transport.TryWriteBorrowed(TestBuffers.Chain([piece]), moreFollows: true).ShouldBeTrue();
        (await transport.Output.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10))).IsCompleted.ShouldBeFalse();
        var received = new byte[length];
        var got = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (got < length)
        {
            var n = await peer.ReceiveAsync(received.AsMemory(got), SocketFlags.None, timeout.Token);
            n.ShouldBeGreaterThan(0);
            got += n;
        }

        received.ShouldBe(piece);
        transport.Dispose();
    }

    [Test]
    public async Task A_cancel_never_leaves_borrowed_memory_behind()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        using var __ = peer;

        // Cancelled before it sends: the borrowed piece is dropped, not kept for a later flush.
        var dropped = new byte[5000];
        Array.Fill(dropped, (byte)'d');
        transport.TryWriteBorrowed(TestBuffers.Chain([dropped])).ShouldBeTrue();
        transport.Output.CancelPendingFlush();
        (await transport.Output.FlushAsync()).IsCanceled.ShouldBeTrue();
        Array.Fill(dropped, (byte)'X'); // its owner has it back

        // Cancelled while its send waits for a peer that does not read: the flush is not woken before the send ends.
        var big = new byte[32 << 20]; // more than the kernel's socket buffers hold
        new Random(9).NextBytes(big);
        transport.TryWriteBorrowed(TestBuffers.Chain([big])).ShouldBeTrue();
        var flush = transport.Output.FlushAsync();
        flush.IsCompleted.ShouldBeFalse("the kernel buffers took 32 MiB");
        transport.Output.CancelPendingFlush();
        await Task.Delay(100);
        flush.IsCompleted.ShouldBeFalse("woken while the send still reads the borrowed memory");

        var reading = TestSockets.ReceiveToEndAsync(peer, big.Length);
        (await flush.AsTask().WaitAsync(TimeSpan.FromSeconds(20))).IsCanceled.ShouldBeFalse();
        await transport.Output.CompleteAsync();
        var received = await reading;
        received.Length.ShouldBe(big.Length); // no 'd' or 'X' before it: the dropped piece never went out
        received.AsSpan().SequenceEqual(big).ShouldBeTrue();
        transport.Dispose();
    }

    [Test]
    public async Task A_flush_waits_while_the_peer_does_not_read_and_CancelPendingFlush_wakes_it()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        using var __ = peer;
        peer.ReceiveBufferSize = 4096;
        var chunk = new byte[64 * 1024];
        ValueTask<System.IO.Pipelines.FlushResult> flush = default;
        for (var i = 0; i < 2000; i++) // fill both socket buffers (bounded: 128 MiB at most)
        {
            transport.Output.Write(chunk.AsSpan());
            flush = transport.Output.FlushAsync();
            if (!flush.IsCompleted)
            {
                break;
            }
        }

        flush.IsCompleted.ShouldBeFalse("the kernel buffers never filled");
        transport.Output.CancelPendingFlush();
        var result = await flush.AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        result.IsCanceled.ShouldBeTrue();
        transport.Dispose(); // the send still in flight fails with the close
    }

    [Test]
    public async Task CancelPendingFlush_with_no_flush_waiting_cancels_the_next_flush_only()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        using var __ = peer;
        transport.Output.Write("abc"u8);

        transport.Output.CancelPendingFlush(); // e.g. a response arrived while the body copy was between reads
        var cancelled = await transport.Output.FlushAsync();
        var sent = await transport.Output.FlushAsync();

        cancelled.IsCanceled.ShouldBeTrue();
        sent.IsCanceled.ShouldBeFalse();
        var buffer = new byte[3];
        (await peer.ReceiveAsync(buffer, SocketFlags.None)).ShouldBe(3); // kept, and sent by the next flush
        transport.Dispose();
    }

    [Test]
    public async Task A_send_to_a_reset_peer_fails_the_flush_instead_of_hanging()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        peer.LingerState = new LingerOption(true, 0);
        peer.Dispose(); // RST
        await Task.Delay(100);

        var failed = false;
        for (var i = 0; i < 50 && !failed; i++) // the first send may still be accepted before the reset is seen
        {
            try
            {
                transport.Output.Write(new byte[1024].AsSpan());
                await transport.Output.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                await Task.Delay(20);
            }
            catch (SocketException)
            {
                failed = true;
            }
        }

        failed.ShouldBeTrue();
        transport.Dispose();
    }

    [Test]
    public async Task A_stream_already_waiting_is_read_in_pieces_of_up_to_64_KiB_not_one_block_at_a_time()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        using var __ = peer;
        var sent = new byte[100_000];
        new Random(3).NextBytes(sent);
        peer.Send(sent);
        await Task.Delay(100); // loopback: all of it is in the receive buffer by now

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var first = await transport.Input.ReadAsync(timeout.Token);

        // Receives of growing blocks (4, 8, 16, 32 KiB...) follow each other while each one fills, up to 64 KiB or more
        // in all: the proxy then sends one large write instead of a 4 KiB one.
        first.Buffer.Length.ShouldBeGreaterThanOrEqualTo(64 * 1024);
        first.Buffer.ToArray().ShouldBe(sent.AsSpan(0, (int)first.Buffer.Length).ToArray());
        transport.Input.AdvanceTo(first.Buffer.End);
        transport.Dispose();
    }

    [Test]
    public async Task Data_and_fin_arriving_together_are_both_read()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        await Task.Delay(50); // the transport is waiting for data
        // The data and the FIN arrive before the transport reads: one edge says both (a short read is not "drained").
        peer.Send("hello"u8);
        peer.Shutdown(SocketShutdown.Send);
        peer.Dispose();

        (await ReadInputToEndAsync(transport)).ShouldBe("hello"u8.ToArray());
        transport.Dispose();
    }

    [Test]
    public async Task Messages_one_at_a_time_each_wake_the_waiting_reader()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        using var __ = peer;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        for (var i = 0; i < 200; i++) // request/response: every read finds the socket drained and waits for the next edge
        {
            peer.Send([(byte)i]);
            var result = await transport.Input.ReadAsync(timeout.Token);
            result.Buffer.Length.ShouldBe(1);
            result.Buffer.FirstSpan[0].ShouldBe((byte)i);
            transport.Input.AdvanceTo(result.Buffer.End);
            transport.Output.Write([(byte)i]);
            await transport.Output.FlushAsync(timeout.Token);
            var echo = new byte[1];
            (await peer.ReceiveAsync(echo, SocketFlags.None, timeout.Token)).ShouldBe(1);
        }

        transport.Dispose();
    }

    [Test]
    [NonParallelizable] // counts the process's first-chance exceptions
    public async Task Dispose_ends_a_waiting_read_instead_of_leaving_it_hanging_and_throws_nothing()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        using var __ = peer;
        var read = transport.Input.ReadAsync().AsTask();
        await Task.Delay(50);
        read.IsCompleted.ShouldBeFalse();

        // Every connection ends this way (its next-request read waiting). No exception may be thrown and caught for
        // it, on either engine: that cost about 5% of the CPU of a new connection per request.
        var thrown = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        void Record(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e) => thrown.Enqueue(e.Exception);
        AppDomain.CurrentDomain.FirstChanceException += Record;
        try
        {
            transport.Dispose();
            var result = await read.WaitAsync(TimeSpan.FromSeconds(10));
            result.IsCompleted.ShouldBeTrue();
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Record;
        }

        thrown.OfType<SocketException>().ShouldBeEmpty();
    }

    [Test]
    public async Task Hundreds_of_connections_at_once_each_carry_their_own_bytes()
    {
        using var listener = TestSockets.Listen();
        var pairs = new List<(SocketTransport Transport, Socket Peer)>();
        try
        {
            for (var i = 0; i < 300; i++) // more than the engine's first slot table (64): it grows, and slots are reused below
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                var transport = await SocketTransport.ConnectAsync(client, (IPEndPoint)listener.LocalEndPoint!, _engine, CancellationToken.None)
                    .AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                pairs.Add((transport, await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10))));
            }

            for (var i = 0; i < pairs.Count; i++)
            {
                pairs[i].Peer.Send(BitConverter.GetBytes(i));
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            for (var i = 0; i < pairs.Count; i++)
            {
                var input = pairs[i].Transport.Input;
                var result = await input.ReadAtLeastAsync(4, timeout.Token);
                BitConverter.ToInt32(result.Buffer.FirstSpan).ShouldBe(i);
                input.AdvanceTo(result.Buffer.End);
            }
        }
        finally
        {
            foreach (var (transport, peer) in pairs)
            {
                transport.Dispose();
                peer.Dispose();
            }
        }
    }

    [Test]
    public async Task Connect_to_a_closed_port_is_refused()
    {
        int port;
        using (var closed = TestSockets.Listen())
        {
            port = ((IPEndPoint)closed.LocalEndPoint!).Port;
        }

        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var ex = await Should.ThrowAsync<SocketException>(() =>
            SocketTransport.ConnectAsync(socket, new IPEndPoint(IPAddress.Loopback, port), _engine, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        ex.SocketErrorCode.ShouldBe(SocketError.ConnectionRefused);
    }

    [Test]
    public async Task A_connect_that_hangs_ends_when_its_token_is_cancelled_and_reports_the_remote_end_when_it_connects()
    {
        // A listener that never accepts, with a backlog of 1: once its queue is full the kernel drops further SYNs
        // and a connect waits for the handshake until cancelled (bounded: at most 8 connects).
        using var listener = TestSockets.Listen(1);
        var endPoint = (IPEndPoint)listener.LocalEndPoint!;
        var connected = new List<SocketTransport>();
        var cancelled = false;
        try
        {
            for (var i = 0; i < 8 && !cancelled; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
                try
                {
                    var transport = await SocketTransport.ConnectAsync(socket, endPoint, _engine, timeout.Token)
                        .AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                    transport.RemoteEndPoint.ShouldBe(endPoint);
                    connected.Add(transport);
                }
                catch (OperationCanceledException)
                {
                    cancelled = true;
                    Should.Throw<ObjectDisposedException>(() => socket.Send([1])); // the failed connect disposed it
                }
            }
        }
        finally
        {
            connected.ForEach(t => t.Dispose());
        }

        cancelled.ShouldBeTrue("a connect to a full backlog should have waited until cancelled");
        connected.Count.ShouldBeGreaterThan(0);
    }

    [Test]
    public async Task Data_sent_before_the_transport_exists_is_read()
    {
        // A new socket starts out counted as drained (so an idle one waits without a buffer): data that came before
        // it joined the engine must still be reported.
        using var listener = TestSockets.Listen();
        using var peer = await TestSockets.ConnectAsync(listener.LocalEndPoint!);
        var accepted = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10));
        peer.Send("early"u8);
        await Task.Delay(50);

        var transport = SocketTransport.Create(accepted, _engine);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var result = await transport.Input.ReadAtLeastAsync(5, timeout.Token);

        result.Buffer.ToArray().ShouldBe("early"u8.ToArray());
        transport.Input.AdvanceTo(result.Buffer.End);
        transport.Dispose();
    }

    [Test]
    public async Task CancelPendingRead_wakes_a_waiting_read_and_the_data_still_comes_to_the_next_read()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        using var __ = peer;
        var read = transport.Input.ReadAsync().AsTask();
        await Task.Delay(50);

        transport.Input.CancelPendingRead();
        var cancelled = await read.WaitAsync(TimeSpan.FromSeconds(10));
        cancelled.IsCanceled.ShouldBeTrue();
        transport.Input.AdvanceTo(cancelled.Buffer.Start, cancelled.Buffer.End);

        peer.Send("after"u8); // the wait left in flight by the cancelled read is picked up by the next one
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var result = await transport.Input.ReadAtLeastAsync(5, timeout.Token);
        result.Buffer.ToArray().ShouldBe("after"u8.ToArray());
        transport.Dispose();
    }

    [Test]
    public async Task CancelPendingRead_from_another_thread_as_a_read_parks_is_never_lost()
    {
        // The proxy's sweep cancels a read from its timer thread while the connection's own thread may be parking that
        // read: the cancel must end it, not stay behind for the read after (up to 2,000 tries, at most 4 s).
        var (transport, peer, listener) = await PairAsync();
        using var _ = transport;
        using var __ = peer;
        using var ___ = listener;
        var input = transport.Input;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 2000 && watch.Elapsed < TimeSpan.FromSeconds(4); i++)
        {
            var read = Race(() => input.ReadAsync(), input.CancelPendingRead, reverse: i % 2 == 1);
            var result = await read.AsTask().WaitAsync(TimeSpan.FromSeconds(5)); // times out when the cancel was lost
            Assert.That(result.IsCanceled, Is.True, $"try {i}: the read ended cancelled");
            input.AdvanceTo(result.Buffer.Start);
        }
    }

    /// <summary>Runs <paramref name="start"/> and <paramref name="cancel"/> on two threads released at the same moment.</summary>
    private static T Race<T>(Func<T> start, Action cancel, bool reverse)
    {
        var go = 0;
        T started = default!;
        var a = new Thread(() => { SpinUntil(ref go); started = start(); });
        var b = new Thread(() => { SpinUntil(ref go); Thread.SpinWait(Random.Shared.Next(0, 40)); cancel(); });
        (reverse ? b : a).Start();
        (reverse ? a : b).Start();
        Volatile.Write(ref go, 1);
        Assert.That(a.Join(TimeSpan.FromSeconds(5)) && b.Join(TimeSpan.FromSeconds(5)), Is.True);
        return started;

        static void SpinUntil(ref int flag)
        {
            for (var spins = 0; Volatile.Read(ref flag) == 0 && spins < 100_000_000; spins++)
            {
            }
        }
    }

    [Test]
    public async Task CancelPendingRead_with_no_read_waiting_cancels_the_next_read_only()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        using var __ = peer;

        transport.Input.CancelPendingRead();
        var first = await transport.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        first.IsCanceled.ShouldBeTrue();
        transport.Input.AdvanceTo(first.Buffer.Start, first.Buffer.End);

        var second = transport.Input.ReadAsync().AsTask();
        await Task.Delay(50);
        second.IsCompleted.ShouldBeFalse(); // waits for data like any read
        peer.Send("x"u8);
        (await second.WaitAsync(TimeSpan.FromSeconds(10))).IsCanceled.ShouldBeFalse();
        transport.Dispose();
    }

    [Test]
    public async Task A_cancelled_token_fails_the_waiting_read_and_the_reader_goes_on()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        using var __ = peer;
        using var cts = new CancellationTokenSource();
        var read = transport.Input.ReadAsync(cts.Token).AsTask();
        await Task.Delay(50);

        await cts.CancelAsync();
        await Should.ThrowAsync<OperationCanceledException>(() => read.WaitAsync(TimeSpan.FromSeconds(10)));

        peer.Send("ok"u8);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        (await transport.Input.ReadAtLeastAsync(2, timeout.Token)).Buffer.ToArray().ShouldBe("ok"u8.ToArray());
        transport.Dispose();
    }

    [Test]
    public async Task Examined_short_of_the_end_returns_the_rest_at_once_and_a_megabyte_streams_whole()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        var expected = new byte[1 << 20];
        new Random(3).NextBytes(expected);
        var sending = Task.Run(() =>
        {
            peer.Send(expected);
            peer.Shutdown(SocketShutdown.Send);
        });

        var got = new MemoryStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var reads = 0;
        while (reads++ < 100_000)
        {
            var result = await transport.Input.ReadAsync(timeout.Token);
            var buffer = result.Buffer;
            // Take at most 1000 bytes per read and say only that much was examined: the rest must come back at once.
            var take = buffer.Slice(0, Math.Min(1000, buffer.Length));
            foreach (var segment in take)
            {
                got.Write(segment.Span);
            }

            transport.Input.AdvanceTo(take.End, take.End);
            if (result.IsCompleted && take.Length == buffer.Length)
            {
                break;
            }
        }

        await sending.WaitAsync(TimeSpan.FromSeconds(10));
        got.ToArray().ShouldBe(expected);
        peer.Dispose();
        transport.Dispose();
    }

    [Test]
    public async Task TryRead_on_an_idle_connection_sees_nothing_then_the_peer_closing()
    {
        var (transport, peer, listener) = await PairAsync();
        using var _ = listener;
        transport.Input.TryRead(out var nothing).ShouldBeFalse(nothing.ToString());

        peer.Shutdown(SocketShutdown.Send);
        peer.Dispose();
        var seen = false;
        for (var i = 0; i < 200 && !seen; i++) // bounded: the FIN takes a moment to arrive
        {
            if (transport.Input.TryRead(out var result))
            {
                result.IsCompleted.ShouldBeTrue();
                transport.Input.AdvanceTo(result.Buffer.End);
                seen = true;
            }
            else
            {
                await Task.Delay(10);
            }
        }

        seen.ShouldBeTrue();
        transport.Dispose();
    }
}
