using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Sidekick.Core.Transport;

namespace Sidekick.Tests.Support;

/// <summary>
/// Running test code on one of our epoll loops' threads: a transport on the loop, connected to a plain peer socket,
/// whose parked read the peer completes by sending a byte (the read's continuation, and so the test's code after it,
/// runs on the loop's thread, in the middle of its iteration).
/// </summary>
internal static class EpollLoop
{
    /// <summary>A transport on our epoll engine connected to <c>Peer</c>, accepted from <c>Listener</c> (dispose all three).</summary>
    public static async Task<(SocketTransport Transport, Socket Peer, Socket Listener)> PairAsync(int sendBufferSize = 0)
    {
        var listener = TestSockets.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (sendBufferSize > 0)
        {
            client.SendBufferSize = sendBufferSize;
        }

        var transport = await SocketTransport.ConnectAsync(client, (IPEndPoint)listener.LocalEndPoint!, SocketEngine.Epoll, CancellationToken.None)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var peer = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10));
        return (transport, peer, listener);
    }

    /// <summary>
    /// Parks a read, has the peer send one byte, and runs <paramref name="onLoop"/> on the thread that completes the
    /// read: the loop's, in the middle of its iteration (the continuation is registered before the byte is sent).
    /// Returns that thread's name; the iteration may still be running when this returns.
    /// </summary>
    public static async Task<string?> OnLoopAsync(SocketTransport transport, Socket peer, Action onLoop)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var read = transport.Input.ReadAsync(timeout.Token);
        read.IsCompleted.ShouldBeFalse("the read did not park");
        var resumed = ResumeAsync(transport, read, onLoop);
        peer.Send("."u8);
        return await resumed.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static async Task<string?> ResumeAsync(SocketTransport transport, ValueTask<ReadResult> read, Action onLoop)
    {
        var result = await read.ConfigureAwait(false);
        transport.Input.AdvanceTo(result.Buffer.End);
        var name = Thread.CurrentThread.Name;
        onLoop();
        return name;
    }
}
