using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Sidekick.Core.Transport.Epoll;

namespace Sidekick.Core.Transport;

/// <summary>
/// A plain TCP socket on a <see cref="SocketIo"/> (our epoll loop on Linux): the input is a <see cref="SocketReader"/>
/// that receives when the proxy reads, the output a <see cref="SocketWriter"/> that sends on flush. No pipe, no loop
/// and no work item stand between the socket and the proxy: a completed wait runs the receive, the parser and the
/// send to the other side on the same thread (this replaced Pipelines.Sockets.Unofficial, whose thread-pool hops
/// cost ~3 KB and a third of the CPU per request, and then a pipe fed by a receive loop). An idle connection holds
/// no buffer in either direction.
/// </summary>
internal sealed class SocketTransport : ITransportConnection
{
    private readonly SocketIo _io;
    private readonly SocketReader _input;
    private readonly SocketWriter _output;
    private int _disposed;

    private SocketTransport(SocketIo io)
    {
        _io = io;
        io.SetNoDelay();
        _input = new SocketReader(io);
        _output = new SocketWriter(io);
    }

    /// <summary>A transport over an accepted socket.</summary>
    public static SocketTransport Create(Socket socket) => Create(socket, SocketIo.DefaultEngine);

    /// <summary>A transport over an accepted (or connected) socket, on the given engine.</summary>
    public static SocketTransport Create(Socket socket, SocketEngine engine) => new(SocketIo.Create(socket, engine));

    /// <summary>A transport over a socket the epoll loop accepted (no runtime socket object).</summary>
    public static SocketTransport Create(SocketIo io) => new(io);

    /// <summary>Connects <paramref name="socket"/> to <paramref name="endPoint"/>; the socket is disposed on failure.</summary>
    public static ValueTask<SocketTransport> ConnectAsync(Socket socket, IPEndPoint endPoint, CancellationToken cancellationToken) =>
        ConnectAsync(socket, endPoint, SocketIo.DefaultEngine, cancellationToken);

    /// <summary>Connects on the given engine; the socket is disposed on failure.</summary>
    public static async ValueTask<SocketTransport> ConnectAsync(Socket socket, IPEndPoint endPoint, SocketEngine engine, CancellationToken cancellationToken)
    {
        var io = await SocketIo.ConnectAsync(socket, endPoint, engine, cancellationToken).ConfigureAwait(false);
        try
        {
            return new SocketTransport(io);
        }
        catch
        {
            io.Discard();
            throw;
        }
    }

    public EndPoint? RemoteEndPoint => _io.RemoteEndPoint;

    public PipeReader Input => _input;

    public PipeWriter Output => _output;

    public bool TryWriteBorrowed(in ReadOnlySequence<byte> data, bool moreFollows = false)
    {
        if (_output.IsSending)
        {
            return false; // a cancelled flush's send is still in flight: the caller copies
        }

        _output.WriteBorrowed(data, moreFollows);
        return true;
    }

    public bool OutputPending => _output.OutputPending;

    /// <summary>Completing the writer sends everything before it returns.</summary>
    public Task OutputDone => Task.CompletedTask;

    public void Interrupt() => _io.Interrupt();

    public void Abort()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        _io.ArmReset();
        Close();
    }

    /// <summary>Closes after sending what write-behind flushes queued (a send that cannot finish at once is cut short).</summary>
    public void Dispose()
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            _output.SendQueuedBeforeClose();
        }

        Close();
    }

    private void Close()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // A wait for data that fails from here on ends the input (IsCompleted), not with an error.
        _input.OnDisposing();
        _io.Close();
        _io.Dispose();
        _output.Release();
    }
}
