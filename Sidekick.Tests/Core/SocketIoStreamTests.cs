using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Sidekick.Core.Transport;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Core;

/// <summary>
/// The stream a TLS connection's SslStream runs over, on both engines: reads wait for data (a zero-byte read only
/// waits), writes complete once the kernel took every byte, the end of the input reads as 0, a cancelled operation
/// aborts the socket, a close under a read fails it.
/// </summary>
[TestFixture("epoll")]
[TestFixture("runtime")]
public class SocketIoStreamTests(string engineName)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly SocketEngine _engine = engineName == "epoll" ? SocketEngine.Epoll : SocketEngine.Runtime;

    private Task<Pair> PairAsync() => Pair.ConnectAsync(_engine);

    [Test]
    public async Task A_read_waits_for_data_and_returns_what_came()
    {
        await using var pair = await PairAsync();
        var (stream, peer) = (pair.Stream, pair.Peer);
        var buffer = new byte[100];
        var read = stream.ReadAsync(buffer);
        Assert.That(read.IsCompleted, Is.False, "nothing was sent yet");

        await peer.SendAsync("hello"u8.ToArray());
        var n = await read.AsTask().WaitAsync(Bound);

        Assert.That(Encoding.ASCII.GetString(buffer, 0, n), Is.EqualTo("hello"));
    }

    [Test]
    public async Task A_zero_byte_read_waits_for_data_without_taking_it()
    {
        await using var pair = await PairAsync();
        var (stream, peer) = (pair.Stream, pair.Peer);
        var wait = stream.ReadAsync(Memory<byte>.Empty);
        Assert.That(wait.IsCompleted, Is.False, "nothing was sent yet");

        await peer.SendAsync("abc"u8.ToArray());
        Assert.That(await wait.AsTask().WaitAsync(Bound), Is.EqualTo(0));

        var buffer = new byte[10];
        var n = await stream.ReadAsync(buffer).AsTask().WaitAsync(Bound);
        Assert.That(Encoding.ASCII.GetString(buffer, 0, n), Is.EqualTo("abc"), "the wait left the data to the read");
    }

    [Test]
    public async Task A_write_larger_than_the_socket_buffers_completes_once_the_peer_read_it_all()
    {
        await using var pair = await PairAsync();
        var (stream, peer) = (pair.Stream, pair.Peer);
        var expected = new byte[8 << 20];
        new Random(11).NextBytes(expected);

        var write = stream.WriteAsync(expected).AsTask();
        var received = await ReceiveAsync(peer, expected.Length);

        await write.WaitAsync(Bound);
        Assert.That(received, Is.EqualTo(expected));
    }

    [Test]
    public async Task A_second_write_while_one_waits_for_room_is_refused_and_the_first_arrives_whole()
    {
        // SslStream writes one record at a time; a second write would replace the first's send on the socket.
        await using var pair = await PairAsync();
        var (stream, peer) = (pair.Stream, pair.Peer);
        var first = new byte[8 << 20];
        new Random(3).NextBytes(first);
        var writing = stream.WriteAsync(first).AsTask();
        writing.IsCompleted.ShouldBeFalse("8 MiB do not fit the socket buffers");

        Assert.That(async () => await stream.WriteAsync(new byte[10]), Throws.InstanceOf<NotSupportedException>());

        var received = await ReceiveAsync(peer, first.Length);

        await writing.WaitAsync(Bound);
        Assert.That(received, Is.EqualTo(first));
    }

    [Test]
    public async Task The_end_of_the_input_reads_as_zero()
    {
        await using var pair = await PairAsync();
        var (stream, peer) = (pair.Stream, pair.Peer);
        var read = stream.ReadAsync(new byte[10]);
        peer.Shutdown(SocketShutdown.Send);

        Assert.That(await read.AsTask().WaitAsync(Bound), Is.EqualTo(0));
    }

    [Test]
    public async Task A_cancelled_read_throws_and_closes_the_connection()
    {
        await using var pair = await PairAsync();
        var (stream, peer) = (pair.Stream, pair.Peer);
        using var cancel = new CancellationTokenSource();
        var read = stream.ReadAsync(new byte[10], cancel.Token).AsTask();
        cancel.Cancel();

        Assert.That(async () => await read.WaitAsync(Bound), Throws.InstanceOf<OperationCanceledException>());
        using var timeout = new CancellationTokenSource(Bound);
        var n = await ReceiveOrResetAsync(peer, timeout.Token);
        Assert.That(n, Is.EqualTo(0), "the peer sees the connection end");
    }

    [Test]
    public async Task A_close_under_a_read_fails_it_with_an_io_exception()
    {
        await using var pair = await PairAsync();
        var read = pair.Stream.ReadAsync(new byte[10]).AsTask();
        pair.CloseSocket();

        Assert.That(async () => await read.WaitAsync(Bound), Throws.InstanceOf<IOException>());
    }

    [Test]
    public async Task Tls_over_the_stream_carries_data_both_ways()
    {
        await using var pair = await PairAsync();
        var (server, client) = await pair.HandshakeAsync();

        await client.WriteAsync("ping"u8.ToArray());
        var buffer = new byte[16];
        var n = await server.ReadAsync(buffer).AsTask().WaitAsync(Bound);
        Assert.That(Encoding.ASCII.GetString(buffer, 0, n), Is.EqualTo("ping"));

        var reply = client.ReadAsync(buffer).AsTask();
        await server.WriteAsync("pong"u8.ToArray());
        n = await reply.WaitAsync(Bound);
        Assert.That(Encoding.ASCII.GetString(buffer, 0, n), Is.EqualTo("pong"));
    }

    /// <summary>Receives exactly <paramref name="length"/> bytes (at most 20 s).</summary>
    private static async Task<byte[]> ReceiveAsync(Socket peer, int length)
    {
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (received.Length < length)
        {
            var n = await peer.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            Assert.That(n, Is.GreaterThan(0), "the stream ended early");
            received.Write(buffer, 0, n);
        }

        return received.ToArray();
    }

    private static async Task<int> ReceiveOrResetAsync(Socket peer, CancellationToken cancellationToken)
    {
        try
        {
            return await peer.ReceiveAsync(new byte[10], SocketFlags.None, cancellationToken);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            return 0;
        }
    }
}

/// <summary>
/// On our epoll loop a TLS connection stays on the loop's thread: over the runtime's NetworkStream every request hopped
/// between the runtime's socket thread and the loop's.
/// </summary>
public class SocketIoStreamOnEpollTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Test]
    public async Task A_tls_read_completes_on_the_loop_thread()
    {
        await using var pair = await Pair.ConnectAsync(SocketEngine.Epoll);
        var (server, client) = await pair.HandshakeAsync();

        var thread = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var buffer = new byte[16];
        var read = client.ReadAsync(buffer);
        Assert.That(read.IsCompleted, Is.False, "nothing was sent yet");
        var continued = Continue(read, thread);
        await server.WriteAsync("data"u8.ToArray());

        Assert.That(await thread.Task.WaitAsync(Bound), Does.StartWith("sidekick epoll"),
            "the TLS read resumed on our loop, not on a runtime socket thread");
        await continued.WaitAsync(Bound);

        static async Task Continue(ValueTask<int> read, TaskCompletionSource<string?> thread)
        {
            await read.ConfigureAwait(false);
            thread.SetResult(Thread.CurrentThread.Name);
        }
    }
}

/// <summary>A <see cref="SocketIoStream"/> connected to a plain socket on 127.0.0.1; disposing closes both ends.</summary>
internal sealed class Pair : IAsyncDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly Socket _listener;
    private readonly SocketIo _io;
    private SslStream? _server;
    private SslStream? _client;

    private Pair(Socket listener, SocketIo io, Socket peer, Socket socket)
    {
        _listener = listener;
        _io = io;
        Socket = socket;
        Stream = new SocketIoStream(io);
        Peer = peer;
    }

    public SocketIoStream Stream { get; }

    /// <summary>The runtime's object for that socket (to ask how much it holds, say).</summary>
    public Socket Socket { get; }

    public Socket Peer { get; }

    public static async Task<Pair> ConnectAsync(SocketEngine engine)
    {
        var listener = TestSockets.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var io = await SocketIo.ConnectAsync(client, (IPEndPoint)listener.LocalEndPoint!, engine, CancellationToken.None).AsTask().WaitAsync(Bound);
        var peer = await listener.AcceptAsync().WaitAsync(Bound);
        return new Pair(listener, io, peer, client);
    }

    /// <summary>TLS over the pair: the peer serves a self-signed certificate, the stream's side is the client.</summary>
    /// <paramref name="wrap"/>: what the client SslStream runs over instead of <see cref="Stream"/> itself (a stream
    /// that watches it, say).
    public async Task<(SslStream Server, SslStream Client)> HandshakeAsync(Func<Stream, Stream>? wrap = null)
    {
        using var certificate = TestCertificates.CreateLeaf(issuer: null);
        _server = new SslStream(new NetworkStream(Peer, ownsSocket: false));
        _client = new SslStream(wrap?.Invoke(Stream) ?? Stream, leaveInnerStreamOpen: true, (_, _, _, _) => true);
        await Task.WhenAll(
            _server.AuthenticateAsServerAsync(certificate),
            _client.AuthenticateAsClientAsync("localhost")).WaitAsync(Bound);
        return (_server, _client);
    }

    public void CloseSocket()
    {
        _io.Close();
        _io.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        CloseSocket();
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Peer.Dispose();
        _listener.Dispose();
    }
}
