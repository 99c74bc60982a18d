using System.Collections.Immutable;
using System.Net;
using Sidekick.Core;
using Sidekick.Core.Config;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Proxy;

/// <summary>Active health over real HTTP, and the start-up hold.</summary>
public class HealthTests
{
    private static SidekickOptions Options(string backendUrl, string healthUrl, TimeSpan? interval = null) => new()
    {
        Address = "127.0.0.1:0",
        ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
        HealthDuration = interval ?? TimeSpan.FromMilliseconds(200),
        HealthTimeout = TimeSpan.FromSeconds(5),
        Sites = [new SiteOptions(1, backendUrl, [new BackendOptions(backendUrl, new Uri(backendUrl), new Uri(healthUrl))])],
    };

    /// <summary>A health endpoint that answers 200 after 700 ms.</summary>
    private static FakeBackend SlowHealth() => new(async c =>
    {
        while (await c.ReadRequestAsync() is not null)
        {
            await Task.Delay(700);
            await c.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    });

    [Test]
    public async Task Probe_OnlyStatus200IsUp_AndRecoveryBringsTheBackendBack()
    {
        var status = 503;
        await using var backend = new FakeBackend(async c =>
        {
            while (await c.ReadRequestAsync() is not null)
            {
                await c.WriteAsync($"HTTP/1.1 {Volatile.Read(ref status)} X\r\nContent-Length: 2\r\n\r\nhi");
            }
        });
        await using var server = ProxyServer.Start(Options(backend.Url, backend.Url + "/minio/health/ready"));
        await server.FirstHealthRound.WaitAsync(TimeSpan.FromSeconds(10));
        var b = server.Table.Sites[0].Backends[0];

        b.IsOnline.ShouldBeFalse();
        b.LastError.ShouldBe("response status 503");
        Volatile.Write(ref status, 200);
        for (var i = 0; i < 100 && !b.IsOnline; i++)
        {
            await Task.Delay(50);
        }

        b.IsOnline.ShouldBeTrue();
        backend.AllReceived.ShouldContain("GET /minio/health/ready HTTP/1.1\r\n");
        b.Requests.ShouldBe(0); // probes are not counted as calls (fixes D7)
    }

    [Test]
    public async Task Probe_FollowsRedirectsWithinTheBackend_AsTheOriginalsGoClientDoes()
    {
        var self = ""; // the backend's own URL, for an absolute Location
        await using var backend = new FakeBackend(async c =>
        {
            string? head;
            while ((head = await c.ReadRequestAsync()) is not null)
            {
                var path = head.Split(' ')[1];
                await c.WriteAsync(path switch
                {
                    "/health" => "HTTP/1.1 301 Moved\r\nLocation: /health/\r\nContent-Length: 5\r\n\r\nmoved",
                    "/health/" => $"HTTP/1.1 302 Found\r\nLocation: {Volatile.Read(ref self)}/health/live?x=1\r\nContent-Length: 0\r\n\r\n",
                    "/health/live?x=1" => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                    _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                });
            }
        });
        Volatile.Write(ref self, backend.Url);
        await using var server = ProxyServer.Start(Options(backend.Url, backend.Url + "/health"));
        await server.FirstHealthRound.WaitAsync(TimeSpan.FromSeconds(10));
        var b = server.Table.Sites[0].Backends[0];

        b.IsOnline.ShouldBeTrue(b.LastError);
        backend.AllReceived.ShouldContain("GET /health/live?x=1 HTTP/1.1\r\n");
    }

    [Test]
    public async Task Probe_RedirectLoop_StopsAfterTenRequests_AndARedirectToAnotherHost_IsNotFollowed()
    {
        await using var other = FakeBackend.Ok("elsewhere");
        await using var backend = new FakeBackend(async c =>
        {
            string? head;
            while ((head = await c.ReadRequestAsync()) is not null)
            {
                var path = head.Split(' ')[1];
                var location = path == "/away" ? other.Url + "/health" : path + "x";
                await c.WriteAsync($"HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n");
            }
        });
        await using var looping = ProxyServer.Start(Options(backend.Url, backend.Url + "/loop"));
        await using var away = ProxyServer.Start(Options(backend.Url, backend.Url + "/away"));
        await looping.FirstHealthRound.WaitAsync(TimeSpan.FromSeconds(10));
        await away.FirstHealthRound.WaitAsync(TimeSpan.FromSeconds(10));
        var loop = looping.Table.Sites[0].Backends[0];
        var leaves = away.Table.Sites[0].Backends[0];

        loop.IsOnline.ShouldBeFalse();
        // As Go's client: 10 requests (9 redirects followed), then the 10th Location is refused, named as sent.
        loop.LastError.ShouldBe($"Get \"/loop{new string('x', 10)}\": stopped after 10 redirects");
        backend.AllReceived.ShouldContain($"GET /loop{new string('x', 9)} HTTP/1.1\r\n");
        backend.AllReceived.ShouldNotContain($"GET /loop{new string('x', 10)} HTTP/1.1\r\n");
        leaves.IsOnline.ShouldBeFalse();
        leaves.LastError.ShouldBe($"response status 307: redirect to {other.Url}/health leaves the backend, not followed");
        other.Accepted.ShouldBe(0);
    }

    [Test]
    public async Task Probe_AStaleConnectionInARedirectChain_IsRetriedForThatRequest_NotFromTheStart()
    {
        var paths = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var readyAsked = 0;
        await using var backend = new FakeBackend(async c =>
        {
            string? head;
            while ((head = await c.ReadRequestAsync()) is not null)
            {
                var path = head.Split(' ')[1];
                paths.Enqueue(path);
                if (path == "/health")
                {
                    await c.WriteAsync("HTTP/1.1 302 Found\r\nLocation: /ready\r\nContent-Length: 0\r\n\r\n");
                }
                else if (Interlocked.Increment(ref readyAsked) == 1)
                {
                    return; // the kept-alive connection closes under the redirected request: a stale connection
                }
                else
                {
                    await c.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                }
            }
        });
        await using var server = ProxyServer.Start(Options(backend.Url, backend.Url + "/health", TimeSpan.FromSeconds(30)));
        await server.FirstHealthRound.WaitAsync(TimeSpan.FromSeconds(10));
        var b = server.Table.Sites[0].Backends[0];

        b.IsOnline.ShouldBeTrue(b.LastError);
        // The redirected request again on a fresh connection, not the chain again from its first URL.
        paths.ShouldBe(["/health", "/ready", "/ready"]);
    }

    [Test]
    public async Task FirstRequests_WaitForTheFirstProbe_InsteadOfGetting502()
    {
        await using var slowHealth = SlowHealth();
        await using var backend = FakeBackend.Ok("served");
        await using var server = ProxyServer.Start(Options(backend.Url, slowHealth.Url + "/health", TimeSpan.FromSeconds(30)));
        using var client = new RawClient(server.LocalEndPoint.Port);

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        var response = await client.ReadResponseAsync();

        response.Status.ShouldBe(200);
        response.BodyText.ShouldBe("served");
    }

    [Test]
    public async Task FirstRequests_WaitForTheFirstSitesProbe_EvenWhenALaterSiteAnswersFirst()
    {
        // Site 1's probe answers late, site 2's at once: the first request still belongs to site 1.
        await using var slowHealth = SlowHealth();
        await using var fastHealth = FakeBackend.Ok("ok");
        await using var first = FakeBackend.Ok("site 1");
        await using var second = FakeBackend.Ok("site 2");
        var options = Options(first.Url, slowHealth.Url + "/health", TimeSpan.FromSeconds(30)) with
        {
            Sites =
            [
                new SiteOptions(1, first.Url, [new BackendOptions(first.Url, new Uri(first.Url), new Uri(slowHealth.Url + "/health"))]),
                new SiteOptions(2, second.Url, [new BackendOptions(second.Url, new Uri(second.Url), new Uri(fastHealth.Url + "/health"))]),
            ],
        };
        await using var server = ProxyServer.Start(options);
        using var client = new RawClient(server.LocalEndPoint.Port);

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        var response = await client.ReadResponseAsync();

        response.Status.ShouldBe(200);
        response.BodyText.ShouldBe("site 1");
        second.Accepted.ShouldBe(0);
    }

    [Test]
    public async Task BackendConnectionClose_IsHonoured_AndTheConnectionIsNotReused()
    {
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadRequestAsync();
            await c.WriteAsync("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        for (var i = 0; i < 2; i++)
        {
            await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            (await client.ReadResponseAsync()).BodyText.ShouldBe("ok");
        }

        backend.Accepted.ShouldBe(2);
    }
}

/// <summary>Graceful stop (beyond the original, its #130): readiness fails at once, in-flight work finishes.</summary>
public class DrainTests
{
    [Test]
    public async Task Stop_RefusesNewConnectionsAtOnce_WhileASlowInFlightRequestStillCompletes()
    {
        var release = new TaskCompletionSource();
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadRequestAsync();
            await release.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await c.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone");
        });
        var proxy = ProxyUnderTest.Start([backend.Url]);
        var port = proxy.Port;
        using var client = proxy.Connect();
        await client.SendAsync("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
        await Task.Delay(200);

        var stopping = proxy.Server.StopAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(200);
        var probe = Should.Throw<System.Net.Sockets.SocketException>(() => new RawClient(port).Dispose());
        stopping.IsCompleted.ShouldBeFalse(); // still draining
        release.SetResult();
        var response = await client.ReadResponseAsync();
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));

        probe.SocketErrorCode.ShouldBe(System.Net.Sockets.SocketError.ConnectionRefused);
        response.BodyText.ShouldBe("done");
        response.Header("Connection").ShouldBe("close");
    }

    [Test]
    public async Task Stop_ResetsWhatIsStillInFlight_WhenTheDrainTimeIsOver()
    {
        var release = new TaskCompletionSource();
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadRequestAsync();
            await release.Task.WaitAsync(TimeSpan.FromSeconds(20)); // answers only after the test
        });
        var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();
        await client.SendAsync("GET /stuck HTTP/1.1\r\nHost: a\r\n\r\n");
        for (var i = 0; i < 100 && backend.Accepted == 0; i++)
        {
            await Task.Delay(20);
        }

        try
        {
            await proxy.Server.StopAsync(TimeSpan.FromMilliseconds(200)).WaitAsync(TimeSpan.FromSeconds(10));

            proxy.Server.ConnectionCount.ShouldBe(0, "the stuck request's connection was ended");
            bool ended;
            try
            {
                ended = await client.IsClosedAsync();
            }
            catch (System.Net.Sockets.SocketException ex) when (ex.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionReset)
            {
                ended = true;
            }

            ended.ShouldBeTrue();
        }
        finally
        {
            release.TrySetResult();
            await proxy.DisposeAsync();
        }
    }

    [Test]
    public async Task Stop_ResetsAResponseInFlight_SoThatItCannotLookComplete()
    {
        // A response delimited by the close, stuck after its first bytes: when the drain time is over the client must
        // see a reset, not the end of the stream (which would pass for the whole response). The interrupt used to shut
        // the socket down, which sent a FIN before the reset.
        var release = new TaskCompletionSource();
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadRequestAsync();
            await c.WriteAsync("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart");
            sent.SetResult();
            await release.Task.WaitAsync(TimeSpan.FromSeconds(20));
        });
        var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();
        await client.SendAsync("GET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
        await sent.Task.WaitAsync(TimeSpan.FromSeconds(10));

        try
        {
            await proxy.Server.StopAsync(TimeSpan.FromMilliseconds(200)).WaitAsync(TimeSpan.FromSeconds(10));

            (await client.ReadUntilEndAsync()).ShouldBe(System.Net.Sockets.SocketError.ConnectionReset, "a reset, not the end of the stream");
        }
        finally
        {
            release.TrySetResult();
            await proxy.DisposeAsync();
        }
    }

    [Test]
    public async Task Stop_EndsAnUploadStuckOnABackendThatStoppedReading()
    {
        // The backend takes the head, then neither reads the body nor answers: the body copy waits on the backend's
        // connection, not the client's. After the drain time the stop ends it, the backend's connection too.
        var backendEnded = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadHeadAsync();
            await Task.WhenAny(release.Task, Task.Delay(TimeSpan.FromSeconds(20)));
            try
            {
                await c.DiscardAsync(long.MaxValue); // reads to the end: the proxy closed (or reset) its side
            }
            catch (System.Net.Sockets.SocketException)
            {
            }

            backendEnded.TrySetResult();
        });
        var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();
        const long length = 64L << 20;
        var uploading = Task.Run(async () =>
        {
            await client.SendAsync($"PUT /up HTTP/1.1\r\nHost: a\r\nContent-Length: {length}\r\n\r\n");
            var chunk = new byte[8 << 20];
            for (var i = 0; i < 8; i++)
            {
                await client.SendAsync(chunk); // more than every buffer on the way takes: it stops, then fails at the stop
            }
        });
        for (var i = 0; i < 100 && backend.Accepted == 0; i++)
        {
            await Task.Delay(20);
        }

        await Task.Delay(300); // the buffers fill up: the copy waits on the backend
        try
        {
            await proxy.Server.StopAsync(TimeSpan.FromMilliseconds(200)).WaitAsync(TimeSpan.FromSeconds(10));

            proxy.Server.ConnectionCount.ShouldBe(0, "the stuck upload's connection was ended");
            release.TrySetResult();
            await backendEnded.Task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            release.TrySetResult();
            await proxy.DisposeAsync();
            await Task.WhenAny(uploading, Task.Delay(TimeSpan.FromSeconds(5)));
        }
    }

    [Test]
    public async Task Stop_LeavesALingeringConnection_SoTheClientStillReadsTheWholeResponse()
    {
        // The backend refuses the upload at its start: the connection closes with the body unread and lingers, its response handed to the kernel but not yet read by the client. A reset would destroy it.
        const int length = 200_000;
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadHeadAsync();
            await c.WriteAsync($"HTTP/1.1 403 Forbidden\r\nContent-Length: {length}\r\n\r\n" + new string('r', length));
            await c.ReadByteAsync(); // holds the connection; never reads the body
        });
        var proxy = ProxyUnderTest.Start([backend.Url]);
        try
        {
            using var client = new RawClient(proxy.Port);
            await client.SendAsync("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n" + new string('x', 1000));
            for (var i = 0; i < 500 && Interlocked.Read(ref proxy.Server.LingeringCloses) == 0; i++)
            {
                await Task.Delay(10);
            }

            Interlocked.Read(ref proxy.Server.LingeringCloses).ShouldBe(1, "the connection lingers");
            await proxy.Server.StopAsync(TimeSpan.FromMilliseconds(50)).WaitAsync(TimeSpan.FromSeconds(10));

            var response = await client.ReadResponseAsync();
            response.Status.ShouldBe(403);
            response.Body.Length.ShouldBe(length);
            (await client.IsClosedAsync()).ShouldBeTrue();
        }
        finally
        {
            await proxy.DisposeAsync();
        }
    }

    [Test]
    [NonParallelizable] // counts the process's first-chance exceptions
    public async Task Stop_InterruptsStreamingResponses_WithoutTouchingTheirBuffersFromAnotherThread()
    {
        // The stop's reset comes from another thread than the connections' loop: it may only wake them. Releasing
        // their buffers from there freed blocks a send was still reading (ArgumentOutOfRange in the send's advance).
        var body = new byte[64 << 20]; // still streaming when the stop comes
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadRequestAsync();
            await c.WriteAsync($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n");
            await c.WriteAsync(body);
        });
        var thrown = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        void Record(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e) => thrown.Enqueue(e.Exception);
        AppDomain.CurrentDomain.FirstChanceException += Record;
        try
        {
            for (var round = 0; round < 10; round++)
            {
                var proxy = ProxyUnderTest.Start([backend.Url]);
                var clients = new List<RawClient>();
                var readers = new List<Task>();
                try
                {
                    for (var i = 0; i < 16; i++)
                    {
                        var client = new RawClient(proxy.Port);
                        clients.Add(client);
                        await client.SendAsync("GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
                        readers.Add(DrainAsync(client.Socket)); // fast readers: most sends complete at once
                    }

                    await Task.Delay(100);
                    await proxy.Server.StopAsync(TimeSpan.FromMilliseconds(1)).WaitAsync(TimeSpan.FromSeconds(10));
                }
                finally
                {
                    foreach (var client in clients)
                    {
                        client.Dispose();
                    }

                    await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(10));
                    await proxy.DisposeAsync();
                }
            }
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Record;
        }

        thrown.OfType<ArgumentOutOfRangeException>().ShouldBeEmpty();
        thrown.OfType<InvalidOperationException>().Where(e => e is not ObjectDisposedException).ShouldBeEmpty(); // (disposed: the test's own readers)

        static async Task DrainAsync(System.Net.Sockets.Socket socket)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                while (await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, timeout.Token) > 0)
                {
                }
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // reset, or disposed by the test
            }
        }
    }

    [Test]
    public async Task Stop_ClosesIdleAndHalfReceivedHeads_WithoutWaitingForTheirTimeouts()
    {
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([backend.Url]); // head timeout 30 s, idle timeout 2 min
        using var idle = proxy.Connect();
        using var halfHead = proxy.Connect();
        await idle.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        (await idle.ReadResponseAsync()).Status.ShouldBe(200);
        await halfHead.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n"); // no blank line yet
        await Task.Delay(100);

        await proxy.Server.StopAsync(TimeSpan.FromSeconds(10)).WaitAsync(TimeSpan.FromSeconds(10));

        (await idle.IsClosedAsync()).ShouldBeTrue();
        (await halfHead.IsClosedAsync()).ShouldBeTrue();
        proxy.Server.ConnectionCount.ShouldBe(0);
    }
}
