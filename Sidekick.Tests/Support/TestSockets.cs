using System.Net;
using System.Net.Sockets;

namespace Sidekick.Tests.Support;

/// <summary>Plain sockets for transport tests: a listener on 127.0.0.1 port 0 and clients of it (bounded waits).</summary>
internal static class TestSockets
{
    /// <summary>A socket listening on 127.0.0.1 at a port the system picks.</summary>
    public static Socket Listen(int backlog = 512)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(backlog);
        return listener;
    }

    /// <summary>A client connected to <paramref name="endPoint"/> (at most 10 s).</summary>
    public static async Task<Socket> ConnectAsync(EndPoint endPoint)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await client.ConnectAsync(endPoint).WaitAsync(TimeSpan.FromSeconds(10));
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Receives until the peer's end (bounded: 20 s, a little over <paramref name="max"/> bytes).</summary>
    public static async Task<byte[]> ReceiveToEndAsync(Socket peer, int max)
    {
        var all = new MemoryStream();
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (all.Length <= max)
        {
            var n = await peer.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                break;
            }

            all.Write(buffer, 0, n);
        }

        return all.ToArray();
    }
}
