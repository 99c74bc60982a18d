using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Sidekick.Core.Transport;
using Sidekick.Core.Transport.Epoll;

namespace Sidekick.Tests.Core;

/// <summary>Accepting on the epoll loop (Linux): accept4 until the queue is empty, the peer's address, closing.</summary>
[Platform("Linux")]
public class EpollListenerTests
{
    [Test]
    public async Task Accepts_every_queued_connection_with_its_peer_address_and_stops_when_closed()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(64);
        var endPoint = (IPEndPoint)listener.LocalEndPoint!;

        // Three connections queued before the listener joins the loop, two after.
        var clients = new List<Socket>();
        for (var i = 0; i < 3; i++)
        {
            var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await c.ConnectAsync(endPoint).WaitAsync(TimeSpan.FromSeconds(10));
            clients.Add(c);
        }

        var accepted = new ConcurrentQueue<SocketTransport>();
        var epoll = new EpollListener(listener, s => accepted.Enqueue(SocketTransport.Create(s)), _ => { });
        for (var i = 0; i < 2; i++)
        {
            var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await c.ConnectAsync(endPoint).WaitAsync(TimeSpan.FromSeconds(10));
            clients.Add(c);
        }

        for (var i = 0; i < 500 && accepted.Count < 5; i++)
        {
            await Task.Delay(10);
        }

        accepted.Count.ShouldBe(5);
        accepted.Select(t => (IPEndPoint)t.RemoteEndPoint!).OrderBy(e => e.Port)
            .ShouldBe(clients.Select(c => (IPEndPoint)c.LocalEndPoint!).OrderBy(e => e.Port));

        // Each accepted socket works: a byte goes through.
        var first = accepted.First(t => ((IPEndPoint)t.RemoteEndPoint!).Port == ((IPEndPoint)clients[0].LocalEndPoint!).Port);
        clients[0].Send("x"u8);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var read = await first.Input.ReadAsync(timeout.Token);
        read.Buffer.FirstSpan[0].ShouldBe((byte)'x');
        first.Input.AdvanceTo(read.Buffer.End);

        epoll.Close();
        var late = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await late.ConnectAsync(endPoint).WaitAsync(TimeSpan.FromSeconds(10)); // queued by the kernel, never taken
        clients.Add(late);
        await Task.Delay(100);
        accepted.Count.ShouldBe(5);

        foreach (var t in accepted)
        {
            t.Dispose();
        }

        clients.ForEach(c => c.Dispose());
    }

    [Test]
    public unsafe void An_IPv6_peer_address_from_accept_is_reported_whole()
    {
        // sockaddr_in6 as accept4 fills it: family 10, port 8080 (network order), flow info, address, scope id.
        var address = stackalloc byte[28];
        new Span<byte>(address, 28).Clear();
        *(ushort*)address = 10;
        address[2] = 0x1f;
        address[3] = 0x90;
        var ip = IPAddress.Parse("2001:db8::7");
        ip.GetAddressBytes().CopyTo(new Span<byte>(address + 8, 16));

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var handle = new SafeSocketHandle(socket.SafeHandle.DangerousGetHandle(), ownsHandle: false);
        var epoll = new EpollSocket(handle, address, 28);
        try
        {
            epoll.RemoteEndPoint.ShouldBe(new IPEndPoint(ip, 8080));
        }
        finally
        {
            epoll.Close();
        }
    }
}
