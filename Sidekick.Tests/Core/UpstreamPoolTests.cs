using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Sidekick.Core.Upstream;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Core;

/// <summary>The upstream pool's named limits: idle expiry (15 s, G1), reuse order, connect timeout (10 s, G1).</summary>
public class UpstreamPoolTests
{
    [Test]
    public async Task IdleConnection_IsReusedBeforeTheIdleTimeout_AndReplacedAfterIt()
    {
        await using var backend = FakeBackend.Ok();
        var time = new FakeTimeProvider();
        using var pool = new UpstreamPool(new Uri(backend.Url), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15), time);

        var first = await pool.RentAsync(forceNew: false, CancellationToken.None);
        pool.Return(first);
        time.Advance(TimeSpan.FromSeconds(14));
        var again = await pool.RentAsync(forceNew: false, CancellationToken.None);
        again.ShouldBeSameAs(first);
        again.Reused.ShouldBeTrue();
        pool.Return(again);

        time.Advance(TimeSpan.FromSeconds(15));
        var fresh = await pool.RentAsync(forceNew: false, CancellationToken.None);

        fresh.ShouldNotBeSameAs(first);
        fresh.Reused.ShouldBeFalse();
        fresh.Dispose();
    }

    [Test]
    public async Task IdleConnection_ResetByTheBackend_IsReplaced_NotThrown()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        using var pool = new UpstreamPool(new Uri($"http://127.0.0.1:{port}"), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15), TimeProvider.System);

        var first = await pool.RentAsync(false, CancellationToken.None);
        using (var accepted = await listener.AcceptAsync())
        {
            pool.Return(first);
            accepted.LingerState = new LingerOption(true, 0); // close with RST while the connection is idle
        }

        await Task.Delay(200); // let the reset reach the idle connection's receive loop
        var next = await pool.RentAsync(false, CancellationToken.None);
        using var second = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10));

        next.ShouldNotBeSameAs(first);
        next.Reused.ShouldBeFalse();
        next.Dispose();
    }

    [Test]
    public async Task Prune_ClosesExpiredIdleConnections()
    {
        await using var backend = FakeBackend.Ok();
        var time = new FakeTimeProvider();
        using var pool = new UpstreamPool(new Uri(backend.Url), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15), time);
        var a = await pool.RentAsync(false, CancellationToken.None);
        var b = await pool.RentAsync(false, CancellationToken.None);
        pool.Return(a);
        time.Advance(TimeSpan.FromSeconds(10));
        pool.Return(b);

        time.Advance(TimeSpan.FromSeconds(6));
        pool.Prune();

        pool.IdleCount.ShouldBe(1);
        (await pool.RentAsync(false, CancellationToken.None)).ShouldBeSameAs(b);
    }

    [Test]
    public async Task IdleConnections_AreReusedLastInFirstOut()
    {
        await using var backend = FakeBackend.Ok();
        using var pool = new UpstreamPool(new Uri(backend.Url), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(15), TimeProvider.System);
        var a = await pool.RentAsync(false, CancellationToken.None);
        var b = await pool.RentAsync(false, CancellationToken.None);
        pool.Return(a);
        pool.Return(b);

        (await pool.RentAsync(false, CancellationToken.None)).ShouldBeSameAs(b);
    }

    [Test]
    public async Task ConnectToABackendThatNeverAnswers_FailsAfterTheConnectTimeout_With502()
    {
        // A listener that never accepts, its queue filled: further SYNs go unanswered (Linux drops them),
        // which is what a backend behind a black hole looks like.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var fillers = new List<Socket>();
        try
        {
            for (var i = 0; i < 8; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { Blocking = false };
                try
                {
                    s.Connect(new IPEndPoint(IPAddress.Loopback, port));
                }
                catch (SocketException)
                {
                    // in progress
                }

                fillers.Add(s);
            }

            await Task.Delay(200);
            await using var proxy = ProxyUnderTest.Start(
                o => o with { Limits = o.Limits with { ConnectTimeout = TimeSpan.FromMilliseconds(500) } },
                [$"http://127.0.0.1:{port}"]);
            using var client = proxy.Connect();

            await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            var response = await client.ReadResponseAsync();

            response.Status.ShouldBe(502);
            response.BodyText.ShouldContain($"dial tcp 127.0.0.1:{port}: i/o timeout");
        }
        finally
        {
            fillers.ForEach(s => s.Dispose());
        }
    }
}
