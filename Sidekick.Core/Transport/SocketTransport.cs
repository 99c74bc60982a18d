using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Sidekick.Core.Transport;

/// <summary>
/// A plain TCP socket on a <see cref="SocketIo"/> (our epoll loop on Linux): a receive loop fills the input pipe, and
/// the output is a <see cref="SocketWriter"/> that sends on flush. The input pipe schedules inline, so a completed
/// receive runs the proxy's parser and its send to the other side on the same thread, with no work item in between
/// (this replaced Pipelines.Sockets.Unofficial, whose thread-pool hops cost ~3 KB and a third of the CPU per request).
/// The receive loop waits with an empty buffer, so an idle connection holds no receive buffer.
/// </summary>
internal sealed class SocketTransport : ITransportConnection
{
    // Pause the receive loop at 64 KiB unread and resume at 32 KiB: with the writer's flush waiting for the
    // kernel, this is what bounds memory per connection whatever the body size (DESIGN, Invariants: "bodies stream").
    private static readonly PipeOptions PipeOptions = new(
        pool: null,
        readerScheduler: PipeScheduler.Inline,
        writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 64 * 1024,
        resumeWriterThreshold: 32 * 1024,
        minimumSegmentSize: MinReceive,
        useSynchronizationContext: false);

    // Receive buffer: 4 KiB for requests and small responses, doubling up to 32 KiB while a body streams in.
    private const int MinReceive = 4096;
    private const int MaxReceive = 32 * 1024;

    private readonly Socket _socket;
    private readonly Pipe _input = new(PipeOptions);
    private readonly SocketWriter _output;
    private readonly SocketIo _io;
    private int _disposed;

    private SocketTransport(Socket socket, SocketIo io)
    {
        _socket = socket;
        _io = io;
        socket.NoDelay = true;
        RemoteEndPoint = socket.RemoteEndPoint;
        _output = new SocketWriter(socket, io);
        _ = ReceiveLoopAsync();
    }

    /// <summary>A transport over an accepted socket.</summary>
    public static SocketTransport Create(Socket socket) => Create(socket, SocketIo.DefaultEngine);

    /// <summary>A transport over an accepted (or connected) socket, on the given engine.</summary>
    public static SocketTransport Create(Socket socket, SocketEngine engine) => new(socket, SocketIo.Create(socket, engine));

    /// <summary>Connects <paramref name="socket"/> to <paramref name="endPoint"/> on the epoll engine; the socket is disposed on failure.</summary>
    public static ValueTask<SocketTransport> ConnectAsync(Socket socket, IPEndPoint endPoint, CancellationToken cancellationToken) =>
        ConnectAsync(socket, endPoint, SocketIo.DefaultEngine, cancellationToken);

    /// <summary>Connects on the given engine; the socket is disposed on failure.</summary>
    public static async ValueTask<SocketTransport> ConnectAsync(Socket socket, IPEndPoint endPoint, SocketEngine engine, CancellationToken cancellationToken)
    {
        SocketIo? io = null;
        try
        {
            io = SocketIo.Create(socket, engine);
            await io.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return new SocketTransport(socket, io);
        }
        catch
        {
            io?.Close();
            socket.Dispose();
            throw;
        }
    }

    public EndPoint? RemoteEndPoint { get; }

    public PipeReader Input => _input.Reader;

    public PipeWriter Output => _output;

    public void Abort()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        SocketReset.Arm(_socket);
        Dispose();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Leaving the engine fails the pending receive (the loop then completes the input pipe) and any send.
        _io.Close();
        _socket.Dispose();
        _output.Release();
    }

    private async Task ReceiveLoopAsync()
    {
        var writer = _input.Writer;
        Exception? error = null;
        var size = MinReceive;
        var drained = true;
        try
        {
            while (true)
            {
                if (drained)
                {
                    // Wait for data without a buffer: an idle connection holds no receive memory.
                    await _io.ReceiveAsync(Memory<byte>.Empty).ConfigureAwait(false);
                }

                var memory = writer.GetMemory(size);
                var n = await _io.ReceiveAsync(memory).ConfigureAwait(false);
                if (n == 0)
                {
                    break; // FIN
                }

                writer.Advance(n);
                // A full buffer means the peer is streaming: read again at once, in larger buffers (fewer system
                // calls per megabyte); a short read means the socket is drained: back to waiting without a buffer.
                drained = n < memory.Length;
                size = drained ? MinReceive : Math.Min(size * 2, MaxReceive);
                var flush = await writer.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break; // the reader is gone
                }
            }
        }
        catch (SocketException ex) when (Volatile.Read(ref _disposed) == 0)
        {
            error = ex;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Closed by us.
        }

        await writer.CompleteAsync(error).ConfigureAwait(false);
        _io.ReceiveEnded();
    }
}
