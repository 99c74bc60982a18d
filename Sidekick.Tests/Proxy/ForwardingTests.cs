using System.Net.Sockets;
using System.Text;
using Sidekick.Core.Config;
using Sidekick.Core.Observability;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Proxy;

/// <summary>Integration: real loopback sockets, a fake backend that records bytes, the proxy in between.</summary>
public class ForwardingTests
{
    [Test]
    public async Task Get_IsForwardedByteExact_WithForwardingHeadersAndWithoutHopByHop()
    {
        await using var backend = FakeBackend.Ok("hi");
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET /bucket/a%2Fb?x=1;y=%zz HTTP/1.1\r\nHost: s3.example:9000\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers, deflate\r\nX-Forwarded-For: 10.1.1.1\r\nAuthorization: AWS4 sig\r\n\r\n");
        var response = await client.ReadResponseAsync();

        response.Status.ShouldBe(200);
        response.BodyText.ShouldBe("hi");
        response.Headers("Server").ShouldBe(["SideKick"]);
        response.Header("X-Proxy").ShouldBe("true");
        var head = backend.AllReceived;
        head.ShouldStartWith("GET /bucket/a%2Fb?x=1;y=%zz HTTP/1.1\r\n");
        TestHttp.HeaderValue(head, "Host").ShouldBe("s3.example:9000");
        TestHttp.HeaderValue(head, "Authorization").ShouldBe("AWS4 sig");
        TestHttp.HeaderValue(head, "TE").ShouldBe("trailers");
        TestHttp.HeaderValues(head, "X-Forwarded-For").ShouldBe(["10.1.1.1, 127.0.0.1"]);
        TestHttp.HeaderValue(head, "X-Forwarded-Host").ShouldBe("s3.example:9000");
        TestHttp.HeaderValue(head, "X-Forwarded-Proto").ShouldBe("http");
        TestHttp.HeaderValue(head, "X-Real-IP").ShouldNotBeNullOrEmpty();
        TestHttp.HeaderValue(head, "Connection").ShouldBeNull();
        TestHttp.HeaderValue(head, "X-Secret").ShouldBeNull();
        TestHttp.HeaderValue(head, "Keep-Alive").ShouldBeNull();
        TestHttp.HeaderValue(head, "Proxy-Connection").ShouldBeNull();
    }

    [Test]
    public async Task KeepAlive_TwoRequests_ReuseOneUpstreamConnection()
    {
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        for (var i = 0; i < 3; i++)
        {
            await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
            (await client.ReadResponseAsync()).Status.ShouldBe(200);
        }

        backend.Accepted.ShouldBe(1);
    }

    [Test]
    public async Task PipelinedRequests_AreAnsweredInOrder()
    {
        await using var backend = new FakeBackend(async c =>
        {
            string? head;
            while ((head = await c.ReadRequestAsync()) is not null)
            {
                var path = head.Split(' ')[1];
                await c.WriteAsync($"HTTP/1.1 200 OK\r\nContent-Length: {path.Length}\r\n\r\n{path}");
            }
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\nGET /three HTTP/1.1\r\nHost: a\r\n\r\n");

        (await client.ReadResponseAsync()).BodyText.ShouldBe("/one");
        (await client.ReadResponseAsync()).BodyText.ShouldBe("/two");
        (await client.ReadResponseAsync()).BodyText.ShouldBe("/three");
    }

    [Test]
    public async Task Post_ContentLengthBody_ArrivesByteExact()
    {
        var payload = new byte[300_000];
        Random.Shared.NextBytes(payload);
        byte[]? received = null;
        await using var backend = new FakeBackend(async c =>
        {
            var head = await c.ReadHeadAsync();
            received = await c.ReadExactAsync(long.Parse(TestHttp.HeaderValue(head!, "Content-Length")!, System.Globalization.CultureInfo.InvariantCulture));
            await c.WriteAsync("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync($"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: {payload.Length}\r\n\r\n");
        await client.SendAsync(payload);

        (await client.ReadResponseAsync()).Status.ShouldBe(201);
        received.ShouldBe(payload);
    }

    [Test]
    public async Task ChunkedRequest_WithExtensionsAndTrailers_IsForwardedAsReceived()
    {
        const string body = "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n";
        var got = new TaskCompletionSource<string>();
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadHeadAsync();
            var bytes = await c.ReadExactAsync(body.Length);
            got.SetResult(Encoding.Latin1.GetString(bytes));
            await c.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body);

        (await client.ReadResponseAsync()).BodyText.ShouldBe("ok");
        (await got.Task.WaitAsync(TimeSpan.FromSeconds(10))).ShouldBe(body);
        TestHttp.HeaderValue(backend.AllReceived, "Transfer-Encoding").ShouldBe("chunked");
    }

    [Test]
    public async Task ChunkedResponse_WithTrailers_ReachesTheClientAndConnectionIsReused()
    {
        await using var backend = new FakeBackend(async c =>
        {
            while (await c.ReadRequestAsync() is not null)
            {
                await c.WriteAsync("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n");
            }
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n");
        var first = await client.ReadResponseAsync();
        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        var second = await client.ReadResponseAsync();

        first.BodyText.ShouldBe("abc");
        second.BodyText.ShouldBe("abc");
        backend.Accepted.ShouldBe(1);
    }

    [Test]
    public async Task Head_WithContentLength_HasNoBody_AndTheConnectionCarriesOn()
    {
        await using var backend = new FakeBackend(async c =>
        {
            string? head;
            while ((head = await c.ReadRequestAsync()) is not null)
            {
                await c.WriteAsync(head.StartsWith("HEAD", StringComparison.Ordinal)
                    ? "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                    : "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nget");
            }
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n");
        var head = await client.ReadResponseAsync(headRequest: true);
        await client.SendAsync("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
        var get = await client.ReadResponseAsync();

        head.Header("Content-Length").ShouldBe("1000");
        get.BodyText.ShouldBe("get");
    }

    [TestCase(204)]
    [TestCase(304)]
    public async Task BodylessStatus_IsRelayedWithoutBody(int status)
    {
        await using var backend = new FakeBackend(async c =>
        {
            while (await c.ReadRequestAsync() is not null)
            {
                await c.WriteAsync($"HTTP/1.1 {status} X\r\nETag: \"e\"\r\n\r\n");
            }
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");

        (await client.ReadResponseAsync()).Status.ShouldBe(status);
        (await client.ReadResponseAsync()).Status.ShouldBe(status);
    }

    [Test]
    public async Task AnExpectationOtherThan100Continue_Gets417AndAClose_AsTheOriginalsGoServerAnswers()
    {
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("PUT /up HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 5\r\n\r\nhello");
        var response = await client.ReadResponseAsync();

        response.Status.ShouldBe(417);
        response.Header("Connection").ShouldBe("close");
        response.Body.Length.ShouldBe(0);
        (await client.IsClosedAsync()).ShouldBeTrue();
        backend.Accepted.ShouldBe(0, "nothing was forwarded");
    }

    [Test]
    public async Task ExpectContinue_InterimResponseIsRelayed_BeforeTheBodyIsSent()
    {
        await using var backend = new FakeBackend(async c =>
        {
            var head = await c.ReadHeadAsync();
            await c.WriteAsync("HTTP/1.1 100 Continue\r\n\r\n");
            var body = await c.ReadExactAsync(4);
            await c.WriteAsync($"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n{Encoding.ASCII.GetString(body)}");
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("PUT /o HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
        var interim = await client.ReadResponseAsync();
        await client.SendAsync("data");
        var final = await client.ReadResponseAsync();

        interim.Status.ShouldBe(100);
        final.BodyText.ShouldBe("data");
        TestHttp.HeaderValue(backend.AllReceived, "Expect").ShouldBe("100-continue");
    }

    [Test]
    public async Task ResponseWithoutLength_IsReadUntilClose_AndTheClientConnectionCloses()
    {
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadRequestAsync();
            await c.WriteAsync("HTTP/1.1 200 OK\r\n\r\nstream until close");
            c.Socket.Shutdown(SocketShutdown.Send);
            await Task.Delay(200);
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        var response = await client.ReadResponseAsync();

        response.BodyText.ShouldBe("stream until close");
        response.Header("Connection").ShouldBe("close");
    }

    [Test]
    public async Task ConnectRefused_Gives502XmlWithRetryAfter()
    {
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
            port = ((System.Net.IPEndPoint)probe.LocalEndPoint!).Port;
        }

        await using var proxy = ProxyUnderTest.Start([$"http://127.0.0.1:{port}"]);
        using var client = proxy.Connect();

        await client.SendAsync("GET /bucket/<x>&y HTTP/1.1\r\nHost: a\r\n\r\n");
        var response = await client.ReadResponseAsync();

        response.Status.ShouldBe(502);
        response.Header("Content-Type").ShouldBe("application/xml");
        response.Header("Retry-After").ShouldBe("120");
        response.Header("Server").ShouldBe("SideKick");
        response.BodyText.ShouldBe($"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>BackendDown</Code><Message>The remote server returned an error (dial tcp 127.0.0.1:{port}: connect: connection refused)</Message><Resource>/bucket/&lt;x&gt;&amp;y</Resource></Error>");
    }

    [Test]
    public async Task BackendClosesMidBody_ClientConnectionIsAborted_NotCompleted()
    {
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadRequestAsync();
            await c.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-part");
            await Task.Delay(100);
            c.Reset();
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");

        var ex = await Should.ThrowAsync<EndOfStreamException>(() => client.ReadResponseAsync());
        ex.Message.ShouldContain("of 100 bytes");
    }

    [Test]
    public async Task GarbageResponse_Gives502()
    {
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadRequestAsync();
            await c.WriteAsync("SSH-2.0-OpenSSH_9.2\r\n\r\n");
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");

        (await client.ReadResponseAsync()).Status.ShouldBe(502);
    }

    [Test]
    public async Task StalePooledConnection_ClosedByBackend_IsRetriedOnANewOne()
    {
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadRequestAsync();
            await c.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            // Then behave like a backend whose keep-alive timer fired: close without a word.
            await c.ReadHeadAsync();
            c.Dispose();
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        (await client.ReadResponseAsync()).Status.ShouldBe(200);
        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        (await client.ReadResponseAsync()).Status.ShouldBe(200);

        backend.Accepted.ShouldBe(2);
    }

    [Test]
    public async Task WebSocketUpgrade_BecomesATwoWayTunnel()
    {
        await using var backend = new FakeBackend(async c =>
        {
            var head = await c.ReadHeadAsync();
            await c.WriteAsync("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n");
            var buf = new byte[5];
            for (var i = 0; i < 2; i++)
            {
                var got = await c.ReadExactAsync(5);
                await c.WriteAsync(got);
            }
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n\r\n");
        var switched = await client.ReadResponseAsync();
        using var cts = new CancellationTokenSource(10_000);
        await client.SendAsync("ping1");
        var echo1 = await client.ReadExactAsync(5, cts.Token);
        await client.SendAsync("ping2");
        var echo2 = await client.ReadExactAsync(5, cts.Token);

        switched.Status.ShouldBe(101);
        switched.Header("Upgrade").ShouldBe("websocket");
        Encoding.ASCII.GetString(echo1).ShouldBe("ping1");
        Encoding.ASCII.GetString(echo2).ShouldBe("ping2");
        TestHttp.HeaderValue(backend.AllReceived, "Upgrade").ShouldBe("websocket");
    }

    [Test]
    public async Task EventStream_LinesReachTheClientAsTheyAreSent()
    {
        var release = new SemaphoreSlim(0);
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadRequestAsync();
            await c.WriteAsync("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
            for (var i = 0; i < 3; i++)
            {
                await c.WriteAsync($"9\r\ndata: {i}\n\n\r\n");
                await release.WaitAsync(TimeSpan.FromSeconds(10));
            }

            await c.WriteAsync("0\r\n\r\n");
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();
        using var cts = new CancellationTokenSource(10_000);

        await client.SendAsync("GET /events HTTP/1.1\r\nHost: a\r\n\r\n");
        string? line;
        while ((line = await client.ReadLineAsync(cts.Token)) != "")
        {
            line.ShouldNotBeNull();
        }

        for (var i = 0; i < 3; i++)
        {
            // Each event must arrive while the backend is still holding the next one back.
            (await client.ReadLineAsync(cts.Token)).ShouldBe("9");
            (await client.ReadLineAsync(cts.Token)).ShouldBe($"data: {i}");
            release.Release();
            await client.ReadLineAsync(cts.Token);
            await client.ReadLineAsync(cts.Token);
        }
    }

    [Test]
    public async Task Health_IsAnsweredBySidekick_NotProxied()
    {
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET /v1/health HTTP/1.1\r\nHost: a\r\n\r\n");
        var response = await client.ReadResponseAsync();

        response.Status.ShouldBe(200);
        response.Header("Server").ShouldBe("SideKick");
        response.Header("X-Proxy").ShouldBeNull();
        backend.Accepted.ShouldBe(0);
    }

    [Test]
    public async Task SmugglingAttempt_Gets400_AndNothingReachesTheBackend()
    {
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n");
        var response = await client.ReadResponseAsync();

        response.Status.ShouldBe(400);
        (await client.IsClosedAsync()).ShouldBeTrue();
        backend.Accepted.ShouldBe(0);
    }

    [Test]
    public async Task MalformedChunkedRequestBody_Gets400_AndTheBackendConnectionEnds()
    {
        // The head and a good chunk reach the backend; then a chunk size that is not hex. The client used to see its
        // connection close with no answer (and the trace said 499); nginx and haproxy answer 400.
        var gotChunk = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var rest = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadHeadAsync();
            Encoding.Latin1.GetString(await c.ReadExactAsync(8)).ShouldBe("3\r\nabc\r\n");
            gotChunk.SetResult();
            var more = new StringBuilder();
            for (var i = 0; i < 4096; i++)
            {
                var b = await c.ReadByteAsync();
                if (b < 0)
                {
                    break;
                }

                more.Append((char)b);
            }

            rest.SetResult(more.ToString());
        });
        await using var proxy = ProxyUnderTest.Start(o => o with { Trace = TraceMode.Application }, [backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
        await gotChunk.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await client.SendAsync("zz\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n");
        var response = await client.ReadResponseAsync();

        response.Status.ShouldBe(400);
        response.BodyText.ShouldContain("chunk size");
        (await client.IsClosedAsync()).ShouldBeTrue();
        (await rest.Task.WaitAsync(TimeSpan.FromSeconds(10))).ShouldBeEmpty(); // nothing more, then the end
        backend.Accepted.ShouldBe(1);

        // The trace says what the client got, not 499 (client closed the request).
        TraceRecord? record = null;
        for (var i = 0; i < 250 && !proxy.Server.Traces.TryRead(out record); i++)
        {
            await Task.Delay(20);
        }

        record.ShouldNotBeNull().StatusCode.ShouldBe(400);
    }

    [Test]
    public async Task MalformedRequestBody_AfterAnEarlyAnswerBegan_ResetsTheClient()
    {
        // The backend answers before the body is in and sends part of its response; then the request body breaks.
        // The response is cut short, so the client must see a reset, not the end of the stream.
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource();
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadHeadAsync();
            await c.WriteAsync("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart");
            answered.SetResult();
            await release.Task.WaitAsync(TimeSpan.FromSeconds(20));
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();
        try
        {
            await client.SendAsync("POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
            await answered.Task.WaitAsync(TimeSpan.FromSeconds(10));
            for (var i = 0; i < 250 && client.Socket.Available == 0; i++)
            {
                await Task.Delay(20); // until the head and "part" have reached the client
            }

            await client.SendAsync("zz\r\n");

            (await client.ReadUntilEndAsync()).ShouldBe(SocketError.ConnectionReset, "a reset, not the end of the stream");
        }
        finally
        {
            release.TrySetResult();
        }
    }

    [Test]
    public async Task MalformedChunkedResponse_FromItsFirstBytes_Is502_NotAHeadAndAReset()
    {
        // The head and a chunk size that is not hex come together: nothing has gone to the client yet, so it gets a
        // 502 and keeps its connection (it got the 200 head and then a reset).
        await using var backend = new FakeBackend(async c =>
        {
            var request = await c.ReadRequestAsync();
            await c.WriteAsync(request is not null && request.Contains("/bad", StringComparison.Ordinal)
                ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
                : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET /bad HTTP/1.1\r\nHost: a\r\n\r\n");
        var response = await client.ReadResponseAsync();
        response.Status.ShouldBe(502);
        response.BodyText.ShouldContain("malformed chunked response");

        await client.SendAsync("GET /good HTTP/1.1\r\nHost: a\r\n\r\n");
        (await client.ReadResponseAsync()).BodyText.ShouldBe("ok");
    }

    [Test]
    public async Task SlowHead_Gets408_AfterTheHeaderTimeout()
    {
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start(
            o => o with { Limits = o.Limits with { HeaderTimeout = TimeSpan.FromMilliseconds(300) } }, [backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n");
        var response = await client.ReadResponseAsync();

        response.Status.ShouldBe(408);
        (await client.IsClosedAsync()).ShouldBeTrue();
    }

    [Test]
    public async Task IdleKeepAliveConnection_IsClosedAfterTheIdleTimeout()
    {
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start(
            o => o with { Limits = o.Limits with { IdleTimeout = TimeSpan.FromMilliseconds(300) } }, [backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        (await client.ReadResponseAsync()).Status.ShouldBe(200);

        (await client.IsClosedAsync(5000)).ShouldBeTrue();
    }

    [Test]
    public async Task Http10Client_WithoutKeepAlive_GetsTheResponseAndAClose()
    {
        await using var backend = FakeBackend.Ok("ten");
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET / HTTP/1.0\r\n\r\n");
        var response = await client.ReadResponseAsync();

        response.BodyText.ShouldBe("ten");
        (await client.IsClosedAsync()).ShouldBeTrue();
    }

    [Test]
    public async Task ClientConnectionClose_IsHonoured()
    {
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        var response = await client.ReadResponseAsync();

        response.Header("Connection").ShouldBe("close");
        (await client.IsClosedAsync()).ShouldBeTrue();
    }

    [Test]
    public async Task ConnectionClose_WithNothingMoreToRead_ClosesAtOnce_WithoutLingering()
    {
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        (await client.ReadResponseAsync()).Status.ShouldBe(200);
        (await client.IsClosedAsync()).ShouldBeTrue();

        // The client keeps its side open: the proxy's side is gone without waiting for the client's FIN.
        for (var i = 0; i < 500 && proxy.Server.ConnectionCount > 0; i++)
        {
            await Task.Delay(10);
        }

        proxy.Server.ConnectionCount.ShouldBe(0);
        Interlocked.Read(ref proxy.Server.LingeringCloses).ShouldBe(0);
    }

    [Test]
    public async Task LargeResponseBodies_SentFromTheBackendsBuffers_ArriveByteExact_ToSlowAndFastReaders()
    {
        // Large body pieces go from the upstream read buffers straight into the client's gather write; those buffers
        // must not be reused before the kernel has them. Random bytes in odd-sized writes, pipelined, large and small.
        var random = new Random(5);
        var bodies = new Dictionary<string, byte[]>();
        foreach (var size in new[] { 12_000_000, 2_100, 70_001, 1, 2_047, 2_048, 500_000 })
        {
            var body = new byte[size];
            random.NextBytes(body);
            bodies["/" + size] = body;
        }

        await using var backend = new FakeBackend(async c =>
        {
            string? head;
            while ((head = await c.ReadRequestAsync()) is not null)
            {
                var body = bodies[head.Split(' ')[1]];
                await c.WriteAsync($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n");
                var pieces = new[] { 7_001, 33_333, 1_024, 65_536 };
                for (int offset = 0, i = 0; offset < body.Length; i++)
                {
                    var n = Math.Min(pieces[i % pieces.Length], body.Length - offset);
                    await c.WriteAsync(body[offset..(offset + n)]);
                    offset += n;
                }
            }
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);

        // Several connections at once, some reading late: while one connection's sends wait in a full socket, the
        // others rent buffers, and would overwrite any the waiting send still uses.
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async n =>
        {
            using var client = proxy.Connect();
            await client.SendAsync(string.Concat(bodies.Keys.Select(path => $"GET {path} HTTP/1.1\r\nHost: a\r\n\r\n")));
            await Task.Delay(n % 2 == 0 ? 400 : 0); // slow readers: their socket buffers fill and the proxy's sends wait
            foreach (var (path, body) in bodies)
            {
                var response = await client.ReadResponseAsync(timeoutMs: 30_000);
                response.Status.ShouldBe(200, path);
                response.Body.Length.ShouldBe(body.Length, path);
                response.Body.AsSpan().SequenceEqual(body).ShouldBeTrue($"{path}: bytes changed");
            }
        }));

        backend.Accepted.ShouldBeLessThanOrEqualTo(4); // kept connections: one per client at most
    }

    [Test]
    public async Task Listener_DelaysTheFirstAck_SoTheResponseCarriesIt()
    {
        // As haproxy in HTTP mode: no packet of its own to acknowledge a new connection's request (Linux).
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        proxy.Server.ListenerDelaysFirstAck.ShouldBe(OperatingSystem.IsLinux());
        using var client = proxy.Connect();
        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        (await client.ReadResponseAsync()).Status.ShouldBe(200);
    }

    [Test]
    public async Task ConnectionClose_LargeResponse_SlowReader_GetsEveryByteAndAnOrderlyClose()
    {
        // The proxy closes once the response is handed to the kernel; the close must be a FIN after what is still
        // queued, never a reset that drops the tail (a descriptor closed with a zero linger did).
        const int size = 4 << 20;
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadRequestAsync();
            await c.WriteAsync($"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n" + new string('x', size));
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await client.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, proxy.Port)).WaitAsync(TimeSpan.FromSeconds(10));
        await client.SendAsync("GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"u8.ToArray());
        await Task.Delay(500); // a slow reader: the proxy is done writing (and closes) long before the client reads

        var buffer = new byte[64 * 1024];
        long total = 0;
        var headEnd = -1L;
        var head = new System.Text.StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        for (var i = 0; i < 100_000; i++)
        {
            var n = await client.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                break;
            }

            if (headEnd < 0)
            {
                head.Append(System.Text.Encoding.ASCII.GetString(buffer, 0, n));
                var at = head.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (at >= 0)
                {
                    headEnd = at + 4;
                }
            }

            total += n;
        }

        headEnd.ShouldBeGreaterThan(0);
        (total - headEnd).ShouldBe(size);
    }

    [Test]
    public async Task Close_WithTheRequestBodyUnread_Lingers_SoTheClientStillReadsTheAnswer()
    {
        // /v1/health is answered by the proxy without reading the upload: the connection closes mid-body, and
        // the proxy reads on until the client stops sending, so that the answer is not destroyed by a reset.
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("POST /v1/health HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n" + new string('x', 1000));
        var response = await client.ReadResponseAsync();

        response.Status.ShouldBe(200);
        (await client.IsClosedAsync()).ShouldBeTrue();
        client.Dispose();
        for (var i = 0; i < 500 && proxy.Server.ConnectionCount > 0; i++)
        {
            await Task.Delay(10);
        }

        Interlocked.Read(ref proxy.Server.LingeringCloses).ShouldBe(1);
    }

    [Test]
    public async Task SuccessAnsweredBeforeTheBodyEnds_TheBodyStillGoesThrough_BothConnectionsStayOpen_AndNoTimerIsSet()
    {
        // As nginx's `return 200` does: answer once the head is in, then read (and discard) the rest of the body. The
        // copy's time limit is the head timeout, kept as a deadline for the server's sweep: a delay per such request
        // stayed in the timer queue for the whole timeout. The head timeout here is a value no other timer has.
        var headTimeout = TimeSpan.FromSeconds(47);
        var time = new TimerWatch(headTimeout);
        await using var backend = EarlyAnswer();
        await using var proxy = ProxyUnderTest.Start(o => o with { Limits = o.Limits with { HeaderTimeout = headTimeout } }, time, [backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345");
        var first = await client.ReadResponseAsync();
        first.BodyText.ShouldBe("ok");
        first.Header("Connection").ShouldBeNull();
        await Task.Delay(50); // the proxy now waits for the rest of the body
        await client.SendAsync("67890");
        await client.SendAsync("GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
        (await client.ReadResponseAsync()).BodyText.ShouldBe("next");
        backend.Accepted.ShouldBe(1);
        time.Made.ShouldBe(0);
    }

    [Test]
    public async Task SuccessAnsweredBeforeTheBodyEnds_AClientThatStopsSending_IsCutOffAtTheHeadTimeout()
    {
        var backendClosed = new TaskCompletionSource();
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadHeadAsync();
            await c.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            await c.ReadExactAsync(5);
            if (await c.ReadByteAsync() < 0)
            {
                backendClosed.TrySetResult(); // the proxy gave the backend connection up too
            }
        });
        await using var proxy = ProxyUnderTest.Start(
            o => o with { Limits = o.Limits with { HeaderTimeout = TimeSpan.FromMilliseconds(300) } }, [backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345");
        (await client.ReadResponseAsync()).BodyText.ShouldBe("ok");

        (await client.IsClosedAsync()).ShouldBeTrue();
        await backendClosed.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// As nginx's `return 200` does: answers once the head is in, then reads (and discards) the rest of the 10-byte body;
    /// answers "next" to the requests that follow.
    /// </summary>
    private static FakeBackend EarlyAnswer() => new(async c =>
    {
        await c.ReadHeadAsync();
        await c.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        (await c.ReadExactAsync(10)).ShouldBe("1234567890"u8.ToArray());
        while (await c.ReadRequestAsync() is not null)
        {
            await c.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext");
        }
    });

    /// <summary>The system's time, counting the timers made with one due time.</summary>
    private sealed class TimerWatch(TimeSpan watched) : TimeProvider
    {
        private int _made;

        public int Made => Volatile.Read(ref _made);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (dueTime == watched)
            {
                Interlocked.Increment(ref _made);
            }

            return TimeProvider.System.CreateTimer(callback, state, dueTime, period);
        }
    }

    [Test]
    public async Task ErrorAnsweredBeforeTheBodyEnds_ClosesTheClientConnection()
    {
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadHeadAsync();
            await c.WriteAsync("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno");
            await c.ReadByteAsync(); // holds the connection; never reads the body
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("PUT /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n12345");
        var response = await client.ReadResponseAsync();

        response.Status.ShouldBe(403);
        response.BodyText.ShouldBe("no");
        (await client.IsClosedAsync()).ShouldBeTrue();
    }

    [Test]
    public async Task ClientGoingAway_DuringALongPoll_ClosesTheUpstreamRequest()
    {
        var upstreamClosed = new TaskCompletionSource();
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadRequestAsync();
            // Never answer; wait to see the proxy give up on us.
            if (await c.ReadByteAsync() < 0)
            {
                upstreamClosed.SetResult();
            }
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        var client = proxy.Connect();

        await client.SendAsync("GET /poll HTTP/1.1\r\nHost: a\r\n\r\n");
        await Task.Delay(200);
        client.Dispose();

        await upstreamClosed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await proxy.SettledAsync();
        var b = proxy.Server.Table.Sites[0].Backends[0];
        b.Errors.ShouldBe(0);
    }
}

/// <summary>HTTP/1.0 clients: no Host, no chunked.</summary>
public class Http10ClientTests
{
    [Test]
    public async Task Http10Client_ChunkedResponse_IsSentDeChunked_AndClosed()
    {
        await using var backend = new FakeBackend(async c =>
        {
            while (await c.ReadRequestAsync() is not null)
            {
                await c.WriteAsync("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n7\r\n, world\r\n0\r\nX-T: 1\r\n\r\n");
            }
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        var response = await client.ReadResponseAsync();

        response.Header("Transfer-Encoding").ShouldBeNull();
        response.BodyText.ShouldBe("hello, world");
        TestHttp.HeaderValue(backend.AllReceived, "Host").ShouldBe($"127.0.0.1:{backend.Port}");
    }
}

/// <summary>Backend failures while the request body is still being sent are the backend's, not the client's.</summary>
public class RequestBodyFailureTests
{
    [Test]
    public async Task BackendReadsTheBodyAndClosesWithoutAnswering_Gives502()
    {
        await using var backend = new FakeBackend(async c =>
        {
            var head = await c.ReadHeadAsync();
            await c.ReadExactAsync(long.Parse(TestHttp.HeaderValue(head!, "Content-Length")!, System.Globalization.CultureInfo.InvariantCulture));
            c.Dispose();
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);

        for (var i = 0; i < 5; i++)
        {
            using var client = proxy.Connect();
            await client.SendAsync("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
            var response = await client.ReadResponseAsync();

            response.Status.ShouldBe(502);
            response.BodyText.ShouldContain("BackendDown");
        }
    }

    [Test]
    public async Task BackendResetWhileTheBodyStreams_Gives502_AndTheClientIsNotBlamed()
    {
        await using var backend = new FakeBackend(async c =>
        {
            await c.ReadHeadAsync();
            await c.ReadExactAsync(10);
            c.Reset();
        });
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = proxy.Connect();

        await client.SendAsync("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n");
        var chunk = new byte[64 * 1024];
        try
        {
            for (var i = 0; i < 15; i++)
            {
                await client.SendAsync(chunk);
            }
        }
        catch (SocketException)
        {
            // The proxy may close the client connection once it has answered.
        }

        var response = await client.ReadResponseAsync();
        response.Status.ShouldBe(502);
    }
}
