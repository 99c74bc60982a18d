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
/// buffer (a zero-byte read only waits), then receives without waiting; a write is one send that completes when the
/// kernel has taken every byte, one at a time (a second write while one waits for room is refused: renegotiation,
/// which would write from the read side, is off on both ends). A cancelled read or write (a handshake that ran out
/// of time) aborts the socket: an SslStream cannot be used after a cancelled operation anyway. The stream does not
/// own the socket.
/// </summary>
internal sealed class SocketIoStream : Stream
{
    private readonly SocketIo _io;
    private readonly List<ArraySegment<byte>> _send = new(1);
    private int _writing; // one write at a time: a second one would replace the first's send on the socket

    public SocketIoStream(SocketIo io)
    {
        _io = io;
    }

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

        // SslStream writes from pooled arrays; anything else is copied once.
        var segment = MemoryMarshal.TryGetArray(buffer, out var array) ? array : new ArraySegment<byte>(buffer.ToArray());
        _send.Clear();
        _send.Add(segment);
        ValueTask<int> send;
        try
        {
            send = _io.SendAsync(_send, MoreFollows);
        }
        catch (SocketException ex)
        {
            Volatile.Write(ref _writing, 0);
            return ValueTask.FromException(new IOException(ex.Message, ex));
        }

        if (send.IsCompletedSuccessfully)
        {
            _ = send.Result;
            Volatile.Write(ref _writing, 0);
            return default;
        }

        return AwaitSendAsync(send, cancellationToken);
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
    private async ValueTask AwaitSendAsync(ValueTask<int> send, CancellationToken cancellationToken)
    {
        using var registration = AbortOnCancel(cancellationToken);
        try
        {
            await send.ConfigureAwait(false);
        }
        catch (SocketException ex)
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
