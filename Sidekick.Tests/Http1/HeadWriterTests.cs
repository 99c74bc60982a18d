using System.Buffers;
using Sidekick.Http1;
using static Sidekick.Tests.Http1.TestBuffers;

namespace Sidekick.Tests.Http1;

public class HeadWriterTests
{
    private static readonly Http1Limits Limits = new();

    private static RequestHead Request(string text)
    {
        var head = new RequestHead();
        Http1Parser.TryParseRequest(Single(text), head, Limits, out _, out Http1Error error).ShouldBe(ParseStatus.Complete, error.Reason);
        return head;
    }

    private static ResponseHead Response(string text, HttpMethodKind method = HttpMethodKind.Get)
    {
        var head = new ResponseHead();
        Http1Parser.TryParseResponse(Single(text), head, method, Limits, out _, out Http1Error error).ShouldBe(ParseStatus.Complete, error.Reason);
        return head;
    }

    private static string WriteRequest(RequestHead head, string peer = "10.0.0.9", string real = "10.0.0.9", string proto = "http")
    {
        var output = new ArrayBufferWriter<byte>();
        int written = HeadWriter.WriteRequest(output, head, Bytes(peer), Bytes(real), Bytes(proto));
        written.ShouldBe(output.WrittenCount);
        return Text(output.WrittenSpan);
    }

    private static string WriteResponse(ResponseHead head, bool keepAlive = true, bool clientIsHttp10 = false)
    {
        var output = new ArrayBufferWriter<byte>();
        int written = HeadWriter.WriteResponse(output, head, keepAlive, clientIsHttp10);
        written.ShouldBe(output.WrittenCount);
        return Text(output.WrittenSpan);
    }

    [Test]
    public void WriteRequest_PlainGet_KeepsHeadersAndReplacesTheClientsForwardingHeaders()
    {
        // The client's X-Real-IP and X-Forwarded-Host do not reach the backend (the original passed them on before
        // its own, so a backend reading the first line took the client's word): gap 9 of the behaviour spec.
        RequestHead head = Request("GET /b/k?x=%2F HTTP/1.1\r\nHost: s3:9000\r\nAuthorization: AWS4 sig\r\nX-Real-IP: 1.1.1.1\r\nx-forwarded-host: client\r\n\r\n");
        WriteRequest(head).ShouldBe(
            "GET /b/k?x=%2F HTTP/1.1\r\nHost: s3:9000\r\nAuthorization: AWS4 sig\r\n" +
            "X-Forwarded-For: 10.0.0.9\r\nX-Real-IP: 10.0.0.9\r\nX-Forwarded-Host: s3:9000\r\nX-Forwarded-Proto: http\r\n\r\n");
    }

    [TestCase("Content-Length: 3\r\nContent-Length: 3\r\n", TestName = "Repeated")]
    [TestCase("Content-Length: 3, 3\r\n", TestName = "Listed")]
    [TestCase("content-length:3 ,3\r\nContent-Length: 3\r\n", TestName = "Both")]
    public void WriteRequest_RepeatedContentLength_GoesOnAsOneNumber(string lengths)
    {
        RequestHead head = Request("PUT /o HTTP/1.1\r\nHost: h\r\n" + lengths + "X-A: 1\r\n\r\n");
        WriteRequest(head).ShouldBe(
            "PUT /o HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX-A: 1\r\n" +
            "X-Forwarded-For: 10.0.0.9\r\nX-Real-IP: 10.0.0.9\r\nX-Forwarded-Host: h\r\nX-Forwarded-Proto: http\r\n\r\n");
    }

    [Test]
    public void WriteRequest_HopByHopHeaders_AreRemovedIncludingConnectionListed()
    {
        RequestHead head = Request(
            "PUT /o HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Trace\r\nKeep-Alive: timeout=5\r\nX-Trace: 1\r\nProxy-Connection: x\r\n" +
            "Proxy-Authorization: Basic a\r\nTrailer: X-Sum\r\nContent-Length: 3\r\nAccept: */*\r\n\r\n");
        WriteRequest(head).ShouldBe(
            "PUT /o HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nAccept: */*\r\n" +
            "X-Forwarded-For: 10.0.0.9\r\nX-Real-IP: 10.0.0.9\r\nX-Forwarded-Host: h\r\nX-Forwarded-Proto: http\r\n\r\n");
    }

    [Test]
    public void WriteRequest_ClientForwardingHeaders_AreFoldedAndReplaced()
    {
        RequestHead head = Request(
            "GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\r\nHost: h\r\nX-Forwarded-Proto: https\r\nx-forwarded-for: 3.3.3.3\r\nX-Forwarded-For:\r\n\r\n");
        WriteRequest(head, peer: "127.0.0.1", real: "192.168.1.5", proto: "http").ShouldBe(
            "GET / HTTP/1.1\r\nHost: h\r\n" +
            "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 127.0.0.1\r\nX-Real-IP: 192.168.1.5\r\nX-Forwarded-Host: h\r\nX-Forwarded-Proto: http\r\n\r\n");
    }

    [Test]
    public void WriteRequest_ChunkedWithTrailers_ReaddsTeTrailersAndTransferEncoding()
    {
        RequestHead head = Request("POST /u HTTP/1.1\r\nHost: h\r\nTE: trailers, deflate\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n");
        WriteRequest(head).ShouldBe(
            "POST /u HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nTE: trailers\r\nTransfer-Encoding: chunked\r\n" +
            "X-Forwarded-For: 10.0.0.9\r\nX-Real-IP: 10.0.0.9\r\nX-Forwarded-Host: h\r\nX-Forwarded-Proto: http\r\n\r\n");
    }

    [Test]
    public void WriteRequest_Upgrade_ReaddsConnectionAndUpgrade()
    {
        RequestHead head = Request("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n");
        WriteRequest(head).ShouldBe(
            "GET /ws HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
            "X-Forwarded-For: 10.0.0.9\r\nX-Real-IP: 10.0.0.9\r\nX-Forwarded-Host: h\r\nX-Forwarded-Proto: http\r\n\r\n");
    }

    [Test]
    public void WriteRequest_AbsoluteForm_SendsOriginFormAndEffectiveHostInPlace()
    {
        RequestHead head = Request("GET http://example.com:81/p?q HTTP/1.1\r\nAccept: */*\r\nHost: wrong\r\nX-A: 1\r\n\r\n");
        WriteRequest(head).ShouldBe(
            "GET /p?q HTTP/1.1\r\nAccept: */*\r\nHost: example.com:81\r\nX-A: 1\r\n" +
            "X-Forwarded-For: 10.0.0.9\r\nX-Real-IP: 10.0.0.9\r\nX-Forwarded-Host: example.com:81\r\nX-Forwarded-Proto: http\r\n\r\n");

        RequestHead noHost = Request("GET http://example.com HTTP/1.0\r\nAccept: */*\r\n\r\n");
        WriteRequest(noHost).ShouldStartWith("GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n");
    }

    [Test]
    public void WriteRequest_Http10Client_IsSentAsHttp11()
    {
        WriteRequest(Request("GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n")).ShouldStartWith("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For");
    }

    [Test]
    public void WriteRequest_SmallWriterSegments_ProduceTheSameBytes()
    {
        RequestHead head = Request("GET /b/k HTTP/1.1\r\nHost: s3:9000\r\nX-Long: " + new string('x', 3000) + "\r\n\r\n");
        string expected = WriteRequest(head);
        var output = new TinySegmentWriter();
        int written = HeadWriter.WriteRequest(output, head, Bytes("10.0.0.9"), Bytes("10.0.0.9"), Bytes("http"));
        Text(output.Written.ToArray()).ShouldBe(expected);
        written.ShouldBe(expected.Length);
    }

    [Test]
    public void WriteResponse_Ok_AddsServerFirstAndXProxyAndDropsHopByHop()
    {
        ResponseHead head = Response(
            "HTTP/1.1 200 OK\r\nServer: MinIO\r\nConnection: keep-alive, X-Internal\r\nX-Internal: 1\r\nX-Proxy: false\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\nProxy-Authenticate: Basic\r\n\r\n");
        WriteResponse(head).ShouldBe("HTTP/1.1 200 OK\r\nServer: SideKick\r\nServer: MinIO\r\nContent-Length: 2\r\nX-Proxy: true\r\n\r\n");
    }

    [Test]
    public void WriteResponse_RepeatedContentLength_GoesOnAsOneNumber()
    {
        ResponseHead head = Response("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nX-A: 1\r\ncontent-length: 2\r\n\r\n");
        WriteResponse(head).ShouldBe("HTTP/1.1 200 OK\r\nServer: SideKick\r\nContent-Length: 2\r\nX-A: 1\r\nX-Proxy: true\r\n\r\n");

        // A HEAD response keeps the length of what a GET would get, though it has no body.
        ResponseHead headResponse = Response("HTTP/1.1 200 OK\r\nContent-Length: 9, 9\r\n\r\n", HttpMethodKind.Head);
        WriteResponse(headResponse).ShouldBe("HTTP/1.1 200 OK\r\nServer: SideKick\r\nContent-Length: 9\r\nX-Proxy: true\r\n\r\n");
    }

    [Test]
    public void WriteResponse_NoContent_DropsContentLength()
    {
        // RFC 9110 8.6: a server must not send Content-Length in a 204 (nor in a 1xx).
        ResponseHead head = Response("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nX-A: 1\r\n\r\n");
        WriteResponse(head).ShouldBe("HTTP/1.1 204 No Content\r\nServer: SideKick\r\nX-A: 1\r\nX-Proxy: true\r\n\r\n");

        ResponseHead notModified = Response("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n");
        WriteResponse(notModified).ShouldBe("HTTP/1.1 304 Not Modified\r\nServer: SideKick\r\nContent-Length: 5\r\nX-Proxy: true\r\n\r\n");
    }

    [Test]
    public void WriteResponse_Chunked_ReaddsTransferEncoding()
    {
        ResponseHead head = Response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n");
        WriteResponse(head).ShouldBe("HTTP/1.1 200 OK\r\nServer: SideKick\r\nX-Proxy: true\r\nTransfer-Encoding: chunked\r\n\r\n");
    }

    [Test]
    public void WriteResponse_NotKeepAlive_SaysConnectionClose()
    {
        ResponseHead head = Response("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        WriteResponse(head, keepAlive: false).ShouldBe("HTTP/1.1 404 Not Found\r\nServer: SideKick\r\nContent-Length: 0\r\nX-Proxy: true\r\nConnection: close\r\n\r\n");
    }

    [Test]
    public void WriteResponse_Http10ClientKeptAlive_SaysKeepAlive()
    {
        ResponseHead head = Response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        WriteResponse(head, keepAlive: true, clientIsHttp10: true).ShouldBe("HTTP/1.1 200 OK\r\nServer: SideKick\r\nContent-Length: 0\r\nX-Proxy: true\r\nConnection: keep-alive\r\n\r\n");
    }

    [Test]
    public void WriteResponse_SwitchingProtocols_ReaddsUpgrade()
    {
        ResponseHead head = Response("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: a\r\n\r\n");
        WriteResponse(head, keepAlive: false).ShouldBe(
            "HTTP/1.1 101 Switching Protocols\r\nServer: SideKick\r\nSec-WebSocket-Accept: a\r\nX-Proxy: true\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    }

    [Test]
    public void WriteResponse_Interim_IsRelayedWithoutAdditions()
    {
        ResponseHead head = Response("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\nConnection: close\r\n\r\n");
        WriteResponse(head, keepAlive: false).ShouldBe("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n");
    }

    [Test]
    public void WriteResponse_EmptyReasonFromHttp10Backend_IsWrittenAsHttp11()
    {
        ResponseHead head = Response("HTTP/1.0 200\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
        WriteResponse(head).ShouldBe("HTTP/1.1 200 \r\nServer: SideKick\r\nContent-Length: 0\r\nX-Proxy: true\r\n\r\n");
    }

    /// <summary>Hands out spans of at most 7 bytes unless more is demanded, to exercise the span refill path.</summary>
    private sealed class TinySegmentWriter : IBufferWriter<byte>
    {
        private byte[] _current = [];

        public List<byte> Written { get; } = [];

        public void Advance(int count) => Written.AddRange(_current.AsSpan(0, count).ToArray());

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            _current = new byte[Math.Max(sizeHint, 7)];
            return _current;
        }

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
    }
}
