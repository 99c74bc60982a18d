using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using Sidekick.Core.Transport;

namespace Sidekick.Tests.Core;

/// <summary>
/// A TLS connection's transport moves data in whole TLS records, on both engines: what the proxy writes in the output
/// pipe's 4 KiB blocks leaves in records of up to 16 KiB (one record and one send each, all but the last of a batch
/// with MSG_MORE), the input takes a whole record at a time, and records already there reach the proxy together
/// (never held back waiting for more).
/// </summary>
[TestFixture("epoll")]
[TestFixture("runtime")]
public class StreamTransportTests(string engineName)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private const int Record = 16 * 1024;
    private readonly SocketEngine _engine = engineName == "epoll" ? SocketEngine.Epoll : SocketEngine.Runtime;

    [Test]
    public async Task A_body_written_in_small_blocks_leaves_in_whole_records()
    {
        await using var pair = await Pair.ConnectAsync(_engine);
        Tap? tap = null;
        var (server, client) = await pair.HandshakeAsync(inner => tap = new Tap(inner));
        using var transport = StreamTransport.Create(client, pair.Stream);
        tap!.ClearWrites(); // the handshake's

        var body = new byte[4 * Record];
        Random.Shared.NextBytes(body);
        for (var offset = 0; offset < body.Length; offset += 4096)
        {
            body.AsSpan(offset, 4096).CopyTo(transport.Output.GetSpan(4096));
            transport.Output.Advance(4096);
        }

        await transport.Output.FlushAsync().AsTask().WaitAsync(Bound);
        var received = await ReadExactlyAsync(server, body.Length);

        Assert.That(received, Is.EqualTo(body));
        var sizes = tap.Writes;
        Assert.That(sizes, Has.Count.EqualTo(4), $"one record per 16 KiB, not one per 4 KiB block: {string.Join(", ", sizes)}");
        Assert.That(sizes, Has.All.InRange(Record, Record + 256), "each a full record with its header and tag");
        Assert.That(tap.MoreFollowed, Is.EqualTo(new[] { true, true, true, false }), "all but the last with MSG_MORE");
        Assert.That(pair.Stream.MoreFollows, Is.False, "and nothing after the batch");
    }

    [Test]
    public async Task The_input_takes_a_whole_record_at_a_time()
    {
        await using var pair = await Pair.ConnectAsync(_engine);
        var (server, client) = await pair.HandshakeAsync();
        using var transport = StreamTransport.Create(client, pair.Stream);

        var body = new byte[4 * Record];
        Random.Shared.NextBytes(body);
        await server.WriteAsync(body).AsTask().WaitAsync(Bound); // four full records

        var input = transport.Input;
        var largest = 0L;
        var total = 0L;
        using var timeout = new CancellationTokenSource(Bound);
        while (total < body.Length)
        {
            var result = await input.ReadAsync(timeout.Token);
            Assert.That(result.IsCompleted, Is.False, "the input ended early");
            foreach (var block in result.Buffer)
            {
                largest = Math.Max(largest, block.Length);
            }

            total = result.Buffer.Length;
            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }

        Assert.That(largest, Is.GreaterThanOrEqualTo(Record), "a record arrives in one piece, not in 4 KiB pieces");
    }

    [Test]
    public async Task Records_already_in_reach_the_proxy_together()
    {
        // Four records wait in the socket before the transport's first wait for data ends (the gate holds it): they
        // reach the proxy in one piece, so a body goes on to the backend in one send instead of one per record.
        await using var pair = await Pair.ConnectAsync(_engine);
        var (server, transport, gate, first) = await GatedAsync(pair);
        using var _ = transport;

        var body = new byte[4 * Record];
        Random.Shared.NextBytes(body);
        await server.WriteAsync(body).AsTask().WaitAsync(Bound);
        for (var i = 0; i < 1000 && pair.Socket.Available < body.Length; i++)
        {
            await Task.Delay(10);
        }

        Assert.That(pair.Socket.Available, Is.GreaterThan(body.Length), "all four records are in the socket");
        Assert.That(first.IsCompleted, Is.False);
        gate.Open();

        var result = await first.WaitAsync(Bound);
        Assert.That(result.Buffer.Length, Is.EqualTo(body.Length), "the four records in one piece");
        Assert.That(result.Buffer.ToArray(), Is.EqualTo(body));
        transport.Input.AdvanceTo(result.Buffer.End);
    }

    [Test]
    public async Task A_record_alone_reaches_the_proxy_without_waiting_for_more()
    {
        await using var pair = await Pair.ConnectAsync(_engine);
        var (server, client) = await pair.HandshakeAsync();
        using var transport = StreamTransport.Create(client, pair.Stream);

        await server.WriteAsync("first"u8.ToArray()).AsTask().WaitAsync(Bound);
        var result = await transport.Input.ReadAsync().AsTask().WaitAsync(Bound);
        Assert.That(result.Buffer.ToArray(), Is.EqualTo("first"u8.ToArray()));
        transport.Input.AdvanceTo(result.Buffer.End);

        await server.WriteAsync("second"u8.ToArray()).AsTask().WaitAsync(Bound);
        result = await transport.Input.ReadAsync().AsTask().WaitAsync(Bound);
        Assert.That(result.Buffer.ToArray(), Is.EqualTo("second"u8.ToArray()));
        transport.Input.AdvanceTo(result.Buffer.End);
    }

    [Test]
    public async Task Records_gathered_before_a_broken_one_still_reach_the_proxy()
    {
        // A request in a record, then a record cut short and the end: the request reaches the proxy before the failure.
        await using var pair = await Pair.ConnectAsync(_engine);
        var (server, transport, gate, first) = await GatedAsync(pair);
        using var _ = transport;

        var request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"u8.ToArray();
        await server.WriteAsync(request).AsTask().WaitAsync(Bound);
        pair.Peer.Send([0x17, 0x03, 0x03, 0x00, 0x40, 1, 2, 3]); // application data, 64 bytes announced, 3 sent
        pair.Peer.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        for (var i = 0; i < 1000 && pair.Socket.Available < 8; i++)
        {
            await Task.Delay(10);
        }

        gate.Open();
        var result = await first.WaitAsync(Bound);
        Assert.That(result.Buffer.ToArray(), Is.EqualTo(request));
        transport.Input.AdvanceTo(result.Buffer.End);
        Assert.That(async () => await transport.Input.ReadAsync().AsTask().WaitAsync(Bound), Throws.InstanceOf<IOException>(),
            "then the failure");
    }

    /// <summary>
    /// TLS over <paramref name="pair"/> and a transport on its client side whose first wait for data is held by the
    /// returned gate; the proxy's first read is already waiting.
    /// </summary>
    private static async Task<(SslStream Server, StreamTransport Transport, Tap Gate, Task<ReadResult> First)> GatedAsync(Pair pair)
    {
        Tap? gate = null;
        var (server, client) = await pair.HandshakeAsync(inner => gate = new Tap(inner));
        gate!.Shut();
        var transport = StreamTransport.Create(client, pair.Stream);
        return (server, transport, gate, transport.Input.ReadAsync().AsTask());
    }

    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int length)
    {
        var buffer = new byte[length];
        await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(Bound);
        return buffer;
    }

    /// <summary>
    /// A stream between the client SslStream and the socket's stream: it records the size of every write, and once
    /// shut, holds waits for data (zero-byte reads) until opened.
    /// </summary>
    private sealed class Tap(Stream inner) : Stream
    {
        private readonly List<int> _writes = [];
        private readonly List<bool> _more = [];
        private TaskCompletionSource _open = Opened();

        public List<int> Writes
        {
            get
            {
                lock (_writes)
                {
                    return [.. _writes];
                }
            }
        }

        /// <summary>For each write, whether the socket's stream below was told that more follows at once.</summary>
        public List<bool> MoreFollowed
        {
            get
            {
                lock (_writes)
                {
                    return [.. _more];
                }
            }
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public void ClearWrites()
        {
            lock (_writes)
            {
                _writes.Clear();
                _more.Clear();
            }
        }

        public void Shut() => _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Open() => _open.TrySetResult();

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.IsEmpty && !_open.Task.IsCompleted)
            {
                await _open.Task.WaitAsync(Bound, cancellationToken);
            }

            return await inner.ReadAsync(buffer, cancellationToken);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count)
        {
            Record(count);
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Record(buffer.Length);
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Record(count);
            return inner.WriteAsync(buffer, offset, count, cancellationToken);
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        private static TaskCompletionSource Opened()
        {
            var open = new TaskCompletionSource();
            open.SetResult();
            return open;
        }

        private void Record(int size)
        {
            lock (_writes)
            {
                _writes.Add(size);
                _more.Add(inner is SocketIoStream { MoreFollows: true });
            }
        }
    }
}
