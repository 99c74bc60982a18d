using System.Net;
using System.Net.Sockets;
using Sidekick.Core.Transport.Epoll;

namespace Sidekick.Core.Transport;

/// <summary>Which code waits for a plain TCP socket to be ready.</summary>
internal enum SocketEngine
{
    /// <summary>Our own epoll loop (Linux): no eager receive that fails with EAGAIN, 4 system calls per request.</summary>
    Epoll,

    /// <summary>The runtime's sockets (SocketAsyncEventArgs): every platform.</summary>
    Runtime,
}

/// <summary>
/// The system calls of one plain TCP socket as <see cref="SocketTransport"/> needs them: a wait for data that holds
/// no memory, a receive that never waits, a gather send. At most one wait and one send in flight.
/// </summary>
internal abstract class SocketIo
{
    /// <summary>
    /// Epoll on Linux, the runtime's sockets elsewhere; SIDEKICK_SOCKET_ENGINE=runtime chooses the runtime's on Linux too.
    /// </summary>
    public static readonly SocketEngine DefaultEngine =
        EpollEngine.IsSupported && !string.Equals(Environment.GetEnvironmentVariable("SIDEKICK_SOCKET_ENGINE"), "runtime", StringComparison.OrdinalIgnoreCase)
            ? SocketEngine.Epoll
            : SocketEngine.Runtime;

    public static SocketIo Create(Socket socket, SocketEngine engine) =>
        engine == SocketEngine.Epoll ? new EpollSocket(socket) : new RuntimeSocketIo(socket);

    /// <summary>Connects <paramref name="socket"/> to <paramref name="endPoint"/> on the given engine; the socket is disposed on failure.</summary>
    public static async ValueTask<SocketIo> ConnectAsync(Socket socket, IPEndPoint endPoint, SocketEngine engine, CancellationToken cancellationToken)
    {
        try
        {
            if (engine == SocketEngine.Epoll)
            {
                // The loop connects: a socket the runtime connected would stay in the runtime's epoll set as well,
                // and every upstream event would wake its thread too (a quarter of the requests per second).
                return await EpollSocket.ConnectAsync(socket, endPoint, cancellationToken).ConfigureAwait(false);
            }

            await socket.ConnectAsync(endPoint, cancellationToken).ConfigureAwait(false);
            return Create(socket, engine);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Completes with 0 when data, a FIN or an error may be there to receive, or with an exception for a failure; holds
    /// no buffer while it waits. A socket closed (<see cref="Close"/>, or disposed on the runtime's sockets) under the
    /// wait or before it completes it with -1 instead, without an exception (that is how every connection ends).
    /// </summary>
    public abstract ValueTask<int> WaitReadableAsync();

    /// <summary>
    /// Receives what is there without waiting: the count (0: the peer closed), or -1 when nothing is there
    /// (<paramref name="error"/> is then <see cref="SocketError.WouldBlock"/>) or on an error.
    /// </summary>
    public abstract int TryReceive(Span<byte> buffer, out SocketError error);

    /// <summary>
    /// Sends every byte of <paramref name="blocks"/> (kept alive by the caller until it completes). With
    /// <paramref name="moreFollows"/> (at least a full packet's worth, the next piece sent at once) the kernel may hold
    /// the last, partial packet back until the next send or the acknowledgement of what went before (MSG_MORE; the
    /// runtime's sockets ignore it).
    /// </summary>
    public abstract ValueTask<int> SendAsync(List<ArraySegment<byte>> blocks, bool moreFollows = false);

    /// <summary>
    /// Runs <paramref name="callback"/>(<paramref name="state"/>) when the wait <see cref="WaitReadableAsync"/> returned
    /// not completed ends. A static callback with the reader as state: no delegate per connection.
    /// </summary>
    public abstract void OnWaitCompleted(Action<object?> callback, object state);

    /// <summary>The same for the send <see cref="SendAsync"/> returned not completed.</summary>
    public abstract void OnSendCompleted(Action<object?> callback, object state);

    /// <summary>Called before the socket is disposed: ends whatever is waiting (see <see cref="WaitReadableAsync"/>).</summary>
    public abstract void Close();

    /// <summary>
    /// Whether a send may be put off to the end of the current loop iteration (<see cref="SendLater"/>): on our epoll
    /// loop's thread while it runs a batch of events; never on the runtime's sockets.
    /// </summary>
    public virtual bool CanSendLater => false;

    /// <summary>Runs <paramref name="send"/>(<paramref name="state"/>) at the end of the loop iteration (after <see cref="CanSendLater"/>).</summary>
    public virtual void SendLater(Action<object?> send, object state) => throw new NotSupportedException();

    /// <summary>The peer's address (null when unknown).</summary>
    public abstract EndPoint? RemoteEndPoint { get; }

    /// <summary>Sends small writes at once (TCP_NODELAY).</summary>
    public abstract void SetNoDelay();

    /// <summary>Ends the sending direction (a FIN after what is sent).</summary>
    public abstract void ShutdownSend();

    /// <summary>Makes the close that follows reset the connection (a zero linger: RST instead of FIN).</summary>
    public abstract void ArmReset();

    /// <summary>
    /// Resets the connection from any thread: the peer gets an RST and no FIN before it (on Linux; elsewhere both
    /// directions are shut down, which sends a FIN first), a wait for data wakes and sees the end, a send fails.
    /// </summary>
    protected abstract void ResetNow();

    /// <summary>From any thread: arms a reset and resets now (see <see cref="ITransportConnection.Interrupt"/>).</summary>
    public void Interrupt()
    {
        ArmReset();
        ResetNow();
    }

    /// <summary>Closes and releases everything (after a failed handshake, or a stream transport's end).</summary>
    public void Discard()
    {
        Close();
        Dispose();
        ReceiveEnded();
        SendEnded();
    }

    /// <summary>Closes the descriptor (after <see cref="Close"/>).</summary>
    public abstract void Dispose();

    /// <summary>The input has ended (or the transport is closing with no wait in flight): no wait for data follows.</summary>
    public virtual void ReceiveEnded()
    {
    }

    /// <summary>The writer is done and no send is in flight: no send follows.</summary>
    public virtual void SendEnded()
    {
    }
}

/// <summary>The runtime's sockets: one <see cref="SocketOperation"/> per direction (the send one made at the first send).</summary>
internal sealed class RuntimeSocketIo : SocketIo
{
    private readonly Socket _socket;
    private readonly SocketOperation _receive = new();
    private SocketOperation? _send;
    private int _receiveEnded;

    public RuntimeSocketIo(Socket socket)
    {
        _socket = socket;
        socket.Blocking = false; // TryReceive returns at once; the runtime's async operations work either way
    }

    public override ValueTask<int> WaitReadableAsync()
    {
        try
        {
            return _receive.WaitReadableAsync(_socket);
        }
        catch (ObjectDisposedException)
        {
            return new ValueTask<int>(-1); // closed before the wait
        }
    }

    public override int TryReceive(Span<byte> buffer, out SocketError error)
    {
        try
        {
            var n = _socket.Receive(buffer, SocketFlags.None, out error);
            return error == SocketError.Success ? n : -1;
        }
        catch (ObjectDisposedException)
        {
            error = SocketError.OperationAborted;
            return -1;
        }
    }

    public override ValueTask<int> SendAsync(List<ArraySegment<byte>> blocks, bool moreFollows = false) => (_send ??= new SocketOperation()).SendAsync(_socket, blocks);

    public override void OnWaitCompleted(Action<object?> callback, object state) => _receive.OnCompleted(callback, state);

    public override void OnSendCompleted(Action<object?> callback, object state) => _send!.OnCompleted(callback, state);

    public override void Close()
    {
        // Disposing the socket fails the runtime's pending operations.
    }

    public override EndPoint? RemoteEndPoint => _socket.RemoteEndPoint;

    public override void SetNoDelay() => _socket.NoDelay = true;

    public override void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    protected override void ResetNow()
    {
        try
        {
            if (OperatingSystem.IsLinux())
            {
                var added = false;
                try
                {
                    _socket.SafeHandle.DangerousAddRef(ref added);
                    if (Epoll.Native.Disconnect((int)_socket.SafeHandle.DangerousGetHandle()))
                    {
                        return;
                    }
                }
                finally
                {
                    if (added)
                    {
                        _socket.SafeHandle.DangerousRelease();
                    }
                }
            }

            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }
    }

    public override void ArmReset() => SocketReset.Arm(_socket);

    public override void Dispose() => _socket.Dispose();

    public override void ReceiveEnded()
    {
        if (Interlocked.Exchange(ref _receiveEnded, 1) == 0)
        {
            _receive.Dispose();
        }
    }

    public override void SendEnded() => _send?.Dispose();
}
