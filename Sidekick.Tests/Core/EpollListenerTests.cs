using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Sidekick.Core.Transport;
using Sidekick.Core.Transport.Epoll;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Core;

/// <summary>Accepting on the epoll loop (Linux): accept4 until the queue is empty, the peer's address, closing.</summary>
[Platform("Linux")]
public partial class EpollListenerTests
{
    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit")]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit")]
    private static partial int SetRLimit(int resource, in RLimit limit);

    [Test]
    [NonParallelizable]
    public async Task Out_of_descriptors_the_queue_waits_and_is_taken_once_descriptors_are_free()
    {
        using var listener = TestSockets.Listen(64);
        var clients = new List<Socket>();
        for (var i = 0; i < 3; i++)
        {
            var c = await TestSockets.ConnectAsync(listener.LocalEndPoint!);
            clients.Add(c);
        }

        EpollEngine.Next(); // the loops (and their epoll descriptors) exist before descriptors run out
        var accepted = new ConcurrentQueue<EpollSocket>();
        var errors = new ConcurrentQueue<string>();

        // No new descriptor below the lowest free number: every accept4 fails with EMFILE.
        var open = Directory.GetFiles("/proc/self/fd").Select(f => int.Parse(Path.GetFileName(f), System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
        var lowestFree = Enumerable.Range(0, 1 << 20).First(n => !open.Contains(n));
        const int RlimitNofile = 7;
        GetRLimit(RlimitNofile, out var saved).ShouldBe(0);
        EpollListener? epoll = null;
        try
        {
            SetRLimit(RlimitNofile, saved with { Current = (ulong)lowestFree }).ShouldBe(0);
            epoll = new EpollListener(listener, accepted.Enqueue, errors.Enqueue);
            for (var i = 0; i < 500 && errors.IsEmpty; i++)
            {
                await Task.Delay(10);
            }
        }
        finally
        {
            SetRLimit(RlimitNofile, saved);
        }

        errors.ShouldNotBeEmpty("accept4 should have failed with EMFILE");
        errors.First().ShouldContain("retrying");

        // Descriptors are back: the retry takes the whole queue (bounded: 5 s).
        for (var i = 0; i < 500 && accepted.Count < 3; i++)
        {
            await Task.Delay(10);
        }

        accepted.Count.ShouldBe(3);
        epoll!.Close();
        foreach (var s in accepted)
        {
            s.Close();
            s.Dispose();
        }

        clients.ForEach(c => c.Dispose());
    }

    [Test]
    public async Task Close_returns_only_after_a_hand_over_in_progress_so_none_comes_after_it()
    {
        using var listener = TestSockets.Listen(64);
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var handedOver = 0;
        var epoll = new EpollListener(listener, s =>
        {
            entered.Set();
            release.Wait(TimeSpan.FromSeconds(10)); // a server setting the connection up while it is told to stop
            Interlocked.Increment(ref handedOver);
            s.Close();
            s.Dispose();
        }, _ => { });
        using var client = await TestSockets.ConnectAsync(listener.LocalEndPoint!);
        entered.Wait(TimeSpan.FromSeconds(10)).ShouldBeTrue();

        var closing = Task.Run(epoll.Close);
        await Task.Delay(200);
        closing.IsCompleted.ShouldBeFalse("Close returned while a connection was still being handed over");
        release.Set();
        await closing.WaitAsync(TimeSpan.FromSeconds(10));
        Volatile.Read(ref handedOver).ShouldBe(1);
    }

    [Test]
    public async Task Accepts_every_queued_connection_with_its_peer_address_and_stops_when_closed()
    {
        using var listener = TestSockets.Listen(64);
        var endPoint = (IPEndPoint)listener.LocalEndPoint!;

        // Three connections queued before the listener joins the loop, two after.
        var clients = new List<Socket>();
        for (var i = 0; i < 3; i++)
        {
            var c = await TestSockets.ConnectAsync(endPoint);
            clients.Add(c);
        }

        var accepted = new ConcurrentQueue<SocketTransport>();
        var epoll = new EpollListener(listener, s => accepted.Enqueue(SocketTransport.Create(s)), _ => { });
        for (var i = 0; i < 2; i++)
        {
            var c = await TestSockets.ConnectAsync(endPoint);
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
        var late = await TestSockets.ConnectAsync(endPoint); // queued by the kernel, never taken
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
        var handle = new DescriptorHandle((int)socket.SafeHandle.DangerousGetHandle(), ownsHandle: false);
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
