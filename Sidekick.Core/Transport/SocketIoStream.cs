using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Sidekick.Core.Threading;

namespace Sidekick.Core.Transport;

/// <summary>
/// A <see cref="SocketIo"/> seen as a stream, for the <see cref="System.Net.Security.SslStream"/> of a TLS connection:
/// on Linux the socket stays on our epoll loop, so a TLS connection runs on the loop's thread as a plain one does
/// (over the runtime's NetworkStream it ran on the runtime's socket thread, and every request hopped between that
/// thread and the loop's, two context switches per request on a sidecar's one core). A read waits for data without a
/// buffer (a zero-byte read only waits), then receives without waiting; a write goes through a
/// <see cref="SocketWriter"/>: one send that completes when the kernel has taken every byte, or, for a small record on
/// our loop, written behind to the end of its iteration. One write at a time (a second while one waits for room is refused: renegotiation,
/// which would write from the read side, is off on both ends). A cancelled read or write (a handshake that ran out
/// of time) aborts the socket: an SslStream cannot be used after a cancelled operation anyway. The stream does not
/// own the socket.
/// </summary>
internal sealed class SocketIoStream : Stream
{
    private readonly SocketIo _io;
    private readonly SocketWriter _writer; // sends the records: a small one may be written behind (see SocketWriter)
    private int _writing; // one write at a time: a second one would replace the first's send on the socket

    public SocketIoStream(SocketIo io)
    {
        _io = io;
        _writer = new SocketWriter(io);
    }

    /// <summary>A send is still in flight or failed unreported (see <see cref="ITransportConnection.OutputPending"/>).</summary>
    public bool OutputPending => _writer.OutputPending;

    /// <summary>The socket under this stream.</summary>
    public SocketIo Io => _io;

    /// <summary>
    /// The next write is followed at once by another of the same message (its send goes with MSG_MORE, so the kernel
    /// fills its last packet from the next one): set by the writer around all but the last record of a batch.
    /// </summary>
    public bool MoreFollows { get; set; }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        if (!buffer.IsEmpty)
        {
            var n = _io.TryReceive(buffer.Span, out var error);
            if (n >= 0)
            {
                return new ValueTask<int>(n);
            }

            if (error != SocketError.WouldBlock)
            {
                return ValueTask.FromException<int>(Failure(error));
            }
        }

        return WaitAndReceiveAsync(buffer, cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (buffer.IsEmpty)
        {
            return default;
        }

        if (Interlocked.Exchange(ref _writing, 1) != 0)
        {
            return ValueTask.FromException(new NotSupportedException("a write is already in progress on this connection"));
        }

        // A small record not followed by another (a small response, close_notify) is copied, so that on our loop its
        // send can wait for the end of the iteration with the other connections' (write-behind); a larger one is sent
        // from SslStream's own buffer, which it keeps until this write completes.
        ValueTask<System.IO.Pipelines.FlushResult> flush;
        try
        {
            if (buffer.Length <= SocketWriter.LaterAtMost && !MoreFollows)
            {
                _writer.Write(buffer.Span);
            }
            else
            {
                _writer.WriteBorrowed(new System.Buffers.ReadOnlySequence<byte>(buffer), MoreFollows);
            }

            flush = _writer.FlushAsync();
        }
        catch (InvalidOperationException ex)
        {
            Volatile.Write(ref _writing, 0);
            return ValueTask.FromException(new IOException(ex.Message, ex));
        }

        if (flush.IsCompletedSuccessfully)
        {
            _ = flush.Result;
            Volatile.Write(ref _writing, 0);
            return default;
        }

        return AwaitFlushAsync(flush, cancellationToken);
    }

    /// <summary>
    /// Ends the sending direction after what is written (and written behind): TLS close_notify goes before the FIN.
    /// </summary>
    public ValueTask CompleteAsync() => _writer.CompleteAsync();

    /// <summary>Before the socket closes: sends what write-behind queued (see <see cref="SocketWriter.SendQueuedBeforeClose"/>).</summary>
    public void SendQueuedBeforeClose() => _writer.SendQueuedBeforeClose();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _writer.Release(); // the socket is closed by then (by its owner, first): the blocks go back
        }

        base.Dispose(disposing);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Every write is sent when it completes: nothing to flush.</summary>
    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("the socket is read asynchronously only");

    public override void Write(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("the socket is written asynchronously only");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<int> WaitAndReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        using var registration = AbortOnCancel(cancellationToken);
        while (true)
        {
            // Each turn waits for an edge (a spurious one costs one receive that finds nothing): not a busy loop.
            int waited;
            try
            {
                waited = await _io.WaitReadableAsync().ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw new IOException(ex.Message, ex);
            }

            if (waited < 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw Failure(SocketError.OperationAborted); // closed under the wait
            }

            if (buffer.IsEmpty)
            {
                return 0;
            }

            var n = _io.TryReceive(buffer.Span, out var error);
            if (n >= 0)
            {
                return n;
            }

            if (error != SocketError.WouldBlock)
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw Failure(error);
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitFlushAsync(ValueTask<System.IO.Pipelines.FlushResult> flush, CancellationToken cancellationToken)
    {
        using var registration = AbortOnCancel(cancellationToken);
        try
        {
            await flush.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new IOException(ex.Message, ex);
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
        }
    }

    private CancellationTokenRegistration AbortOnCancel(CancellationToken cancellationToken) =>
        cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static s => Abort((SocketIo)s!), _io)
            : default;

    /// <summary>Ends whatever waits on the socket and closes it (the owner's close that follows does nothing more).</summary>
    private static void Abort(SocketIo io) => io.Discard();

    private static IOException Failure(SocketError error) =>
        new(error == SocketError.OperationAborted ? "the connection was closed" : $"socket error: {error}", new SocketException((int)error));
}
