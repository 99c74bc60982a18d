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
/// The system calls of one plain TCP socket as <see cref="SocketTransport"/> needs them: a receive (an empty buffer
/// waits for data without holding memory), a gather send, a connect. At most one receive and one send in flight.
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

    /// <summary>Receives into <paramref name="buffer"/>; 0 means the peer closed. An empty buffer waits until data may be there.</summary>
    public abstract ValueTask<int> ReceiveAsync(Memory<byte> buffer);

    /// <summary>Sends every byte of <paramref name="blocks"/> (kept alive by the caller until it completes).</summary>
    public abstract ValueTask<int> SendAsync(List<ArraySegment<byte>> blocks);

    /// <summary>Connects; cancelling fails it with <see cref="OperationCanceledException"/>.</summary>
    public abstract ValueTask ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken);

    /// <summary>Called before the socket is disposed: fails whatever is waiting.</summary>
    public abstract void Close();

    /// <summary>The receive loop has ended: no receive follows.</summary>
    public virtual void ReceiveEnded()
    {
    }

    /// <summary>The writer is done and no send is in flight: no send follows.</summary>
    public virtual void SendEnded()
    {
    }
}

/// <summary>The runtime's sockets: one <see cref="SocketOperation"/> per direction (the send one made at the first send).</summary>
internal sealed class RuntimeSocketIo(Socket socket) : SocketIo
{
    private readonly SocketOperation _receive = new();
    private SocketOperation? _send;

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer) => _receive.ReceiveAsync(socket, buffer);

    public override ValueTask<int> SendAsync(List<ArraySegment<byte>> blocks) => (_send ??= new SocketOperation()).SendAsync(socket, blocks);

    public override ValueTask ConnectAsync(IPEndPoint endPoint, CancellationToken cancellationToken) => socket.ConnectAsync(endPoint, cancellationToken);

    public override void Close()
    {
        // Disposing the socket fails the runtime's pending operations.
    }

    public override void ReceiveEnded() => _receive.Dispose();

    public override void SendEnded() => _send?.Dispose();
}
