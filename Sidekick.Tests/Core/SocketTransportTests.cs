using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Sidekick.Core.Transport;

namespace Sidekick.Tests.Core;

/// <summary>The hand-rolled socket transport: sends on flush (gather writes), back-pressure, FIN on complete.</summary>
public class SocketTransportTests
{
    private static async Task<(SocketTransport Transport, Socket Peer, Socket Listener)> PairAsync()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        var peer = await listener.AcceptAsync();
        return (SocketTransport.Create(client), peer, listener);
    }

    private static async Task<byte[]> ReadToEndAsync(Socket peer, int max)
    {
        var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (all.Length <= max)
        {
            var n = await peer.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                break;
            }

            all.Write(buffer, 0, n);
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

        var reading = ReadToEndAsync(peer, expected.Length);
        await transport.Output.CompleteAsync(); // sends the rest, then FIN
        var received = await reading;

        received.ShouldBe(expected);
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
}
