using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Pipelines.Sockets.Unofficial;

namespace Sidekick.Core.Transport;

/// <summary>Socket to pipe adapter over Pipelines.Sockets.Unofficial (design card choice).</summary>
internal sealed class SocketTransport : ITransportConnection
{
    // Pause a writer at 64 KiB buffered and resume at 32 KiB: this is what bounds memory per
    // connection whatever the body size (DESIGN, Invariants: "bodies stream").
    private static readonly PipeOptions PipeOptions = new(
        pool: null,
        readerScheduler: PipeScheduler.ThreadPool,
        writerScheduler: PipeScheduler.ThreadPool,
        pauseWriterThreshold: 64 * 1024,
        resumeWriterThreshold: 32 * 1024,
        minimumSegmentSize: 4096,
        useSynchronizationContext: false);

    private readonly SocketConnection _connection;
    private readonly Socket _socket;
    private int _disposed;

    private SocketTransport(Socket socket)
    {
        _socket = socket;
        socket.NoDelay = true;
        // Zero-length reads: an idle connection holds no receive buffer.
        _connection = SocketConnection.Create(socket, PipeOptions, PipeOptions, SocketConnectionOptions.ZeroLengthReads);
        RemoteEndPoint = socket.RemoteEndPoint;
    }

    public static SocketTransport Create(Socket socket) => new(socket);

    public EndPoint? RemoteEndPoint { get; }

    public PipeReader Input => _connection.Input;

    public PipeWriter Output => _connection.Output;

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

        _connection.Dispose();
        _socket.Dispose();
    }
}
