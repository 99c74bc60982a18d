using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Sidekick.Core.Transport;

/// <summary>
/// A socket hand-rolled on <see cref="SocketOperation"/>: a receive loop fills the input pipe, and the output is a
/// <see cref="SocketWriter"/> that sends on flush. The input pipe schedules inline, so a completed receive runs the
/// proxy's parser and its send to the other side on the same thread, with no work item in between (this replaced
/// Pipelines.Sockets.Unofficial, whose thread-pool hops cost ~3 KB and a third of the CPU per request). The
/// receive loop waits with a zero-byte read, so an idle connection holds no receive buffer.
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
    private readonly SocketOperation _receive = new();
    private int _disposed;

    private SocketTransport(Socket socket)
    {
        _socket = socket;
        socket.NoDelay = true;
        RemoteEndPoint = socket.RemoteEndPoint;
        _output = new SocketWriter(socket);
        _ = ReceiveLoopAsync();
    }

    public static SocketTransport Create(Socket socket) => new(socket);

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

        // Closing the socket fails the pending receive (the loop then completes the input pipe) and any send.
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
                    await _receive.ReceiveAsync(_socket, Memory<byte>.Empty).ConfigureAwait(false);
                }

                var memory = writer.GetMemory(size);
                var n = await _receive.ReceiveAsync(_socket, memory).ConfigureAwait(false);
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
        _receive.Dispose();
    }
}
