using System.Buffers;
using Sidekick.Http1;
using static Sidekick.Tests.Http1.TestBuffers;

namespace Sidekick.Tests.Http1;

public class ResponseParserTests
{
    private static readonly Http1Limits Limits = new();

    private static readonly string[] ValidResponses =
    [
        "HTTP/1.1 200 OK\r\nServer: MinIO\r\nContent-Length: 12\r\nETag: \"abc\"\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n",
        "HTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.1 200 \r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n",
        "HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        "HTTP/1.1 200\r\n\r\n",
    ];

    private static (ParseStatus Status, ResponseHead Head, SequencePosition Consumed, Http1Error Error) Parse(in ReadOnlySequence<byte> buffer, HttpMethodKind method = HttpMethodKind.Get, Http1Limits? limits = null)
    {
        var head = new ResponseHead();
        ParseStatus status = Http1Parser.TryParseResponse(buffer, head, method, limits ?? Limits, out SequencePosition consumed, out Http1Error error);
        return (status, head, consumed, error);
    }

    private static ResponseHead Complete(string text, HttpMethodKind method = HttpMethodKind.Get)
    {
        var (status, head, _, error) = Parse(Single(text), method);
        status.ShouldBe(ParseStatus.Complete, error.Reason);
        return head;
    }

    [Test]
    public void TryParseResponse_EveryPrefixOfValidResponse_IsIncompleteAndConsumesNothing()
    {
        foreach (string text in ValidResponses)
        {
            byte[] bytes = Bytes(text);
            for (int length = 0; length < bytes.Length; length++)
            {
                var buffer = new ReadOnlySequence<byte>(bytes, 0, length);
                var (status, _, consumed, _) = Parse(buffer);
                status.ShouldBe(ParseStatus.Incomplete, $"prefix {length} of {text}");
                consumed.ShouldBe(buffer.Start);
            }
        }
    }

    [Test]
    public void TryParseResponse_SplitAtEveryByteBoundary_ParsesIdentically()
    {
        foreach (string text in ValidResponses)
        {
            byte[] bytes = Bytes(text);
            string expected = Describe(Complete(text));
            for (int cut = 0; cut <= bytes.Length; cut++)
            {
                var (status, head, _, _) = Parse(Split(bytes, cut));
                status.ShouldBe(ParseStatus.Complete);
                Describe(head).ShouldBe(expected);
            }

            var (s, oneByte, _, _) = Parse(ByteByByte(bytes));
            s.ShouldBe(ParseStatus.Complete);
            Describe(oneByte).ShouldBe(expected);
        }
    }

    [Test]
    public void TryParseResponse_ContentLength_RecordsStatusReasonAndLength()
    {
        ResponseHead head = Complete(ValidResponses[0] + "hello world!");
        head.StatusCode.ShouldBe(200);
        Text(head.Reason).ShouldBe("OK");
        head.Framing.ShouldBe(BodyFraming.ContentLength);
        head.ContentLength.ShouldBe(12);
        head.KeepAlive.ShouldBeTrue();
        head.HeadLength.ShouldBe(ValidResponses[0].Length);
        head.HeaderKind(0).ShouldBe(KnownHeader.Server);
    }

    [Test]
    public void TryParseResponse_HeadRequest_HasNoBodyEvenWithContentLength()
    {
        ResponseHead head = Complete(ValidResponses[0], HttpMethodKind.Head);
        head.Framing.ShouldBe(BodyFraming.None);
        head.KeepAlive.ShouldBeTrue();
    }

    [TestCase("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n")]
    [TestCase("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [TestCase("HTTP/1.1 100 Continue\r\n\r\n")]
    [TestCase("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n")]
    public void TryParseResponse_NoBodyStatus_HasNoFraming(string text)
    {
        ResponseHead head = Complete(text);
        head.Framing.ShouldBe(BodyFraming.None);
        head.KeepAlive.ShouldBeTrue();
    }

    [Test]
    public void TryParseResponse_Switching101_IsUpgradeWithoutBody()
    {
        ResponseHead head = Complete(ValidResponses[4]);
        head.IsUpgrade.ShouldBeTrue();
        Text(head.UpgradeValue).ShouldBe("websocket");
        head.Framing.ShouldBe(BodyFraming.None);
        head.KeepAlive.ShouldBeFalse();
    }

    [Test]
    public void TryParseResponse_NoLength_ReadsUntilCloseAndDoesNotPersist()
    {
        ResponseHead head = Complete("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
        head.Framing.ShouldBe(BodyFraming.UntilClose);
        head.KeepAlive.ShouldBeFalse();
    }

    [Test]
    public void TryParseResponse_Chunked_IsChunked()
    {
        ResponseHead head = Complete(ValidResponses[2]);
        head.Framing.ShouldBe(BodyFraming.Chunked);
        head.Reason.IsEmpty.ShouldBeTrue();
        head.IsHopByHop(0).ShouldBeTrue();
        head.IsHopByHop(1).ShouldBeTrue();
    }

    [Test]
    public void TryParseResponse_StatusWithoutReasonOrSpace_IsAccepted()
    {
        ResponseHead head = Complete(ValidResponses[5]);
        head.StatusCode.ShouldBe(200);
        head.Reason.IsEmpty.ShouldBeTrue();
    }

    [Test]
    public void TryParseResponse_Http10_PersistsOnlyWithKeepAlive()
    {
        Complete(ValidResponses[3]).KeepAlive.ShouldBeTrue();
        Complete("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").KeepAlive.ShouldBeFalse();
        Complete("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").KeepAlive.ShouldBeFalse();
    }

    [Test]
    public void TryParseResponse_HigherMinorVersion_IsReadAsHttp11()
    {
        ResponseHead head = Complete("HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n");
        head.IsHttp11.ShouldBeTrue();
        head.KeepAlive.ShouldBeTrue();
    }

    [TestCase("SSH-2.0-OpenSSH_9.0\r\n\r\n", TestName = "Garbage")]
    [TestCase("HTTP/1.1 2000 OK\r\n\r\n", TestName = "Four-digit status")]
    [TestCase("HTTP/1.1 099 Low\r\n\r\n", TestName = "Status below 100")]
    [TestCase("HTTP/1.1 600 High\r\n\r\n", TestName = "Status above 599")]
    [TestCase("HTTP/1.1 20x OK\r\n\r\n", TestName = "Non-digit status")]
    [TestCase("HTTP/2.0 200 OK\r\n\r\n", TestName = "HTTP/2.0")]
    [TestCase("HTTP/1.1  200 OK\r\n\r\n", TestName = "Double space")]
    [TestCase("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", TestName = "TE+CL")]
    [TestCase("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", TestName = "TE gzip")]
    [TestCase("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", TestName = "TE chunked then gzip")]
    [TestCase("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", TestName = "TE in HTTP/1.0")]
    [TestCase("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", TestName = "Differing CL")]
    [TestCase("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", TestName = "Negative CL")]
    [TestCase("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", TestName = "Bare LF")]
    [TestCase("HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n", TestName = "Space before colon")]
    [TestCase("HTTP/1.1 200 OK\r\nX-A: 1\r\n\tfold\r\n\r\n", TestName = "Obs-fold")]
    [TestCase("HTTP/1.1 200 O\u0001K\r\n\r\n", TestName = "Control char in reason")]
    public void TryParseResponse_InvalidResponse_Is502(string text)
    {
        var (status, _, _, error) = Parse(Single(text));
        status.ShouldBe(ParseStatus.Error);
        error.StatusCode.ShouldBe(502);
    }

    [Test]
    public void TryParseResponse_OverLimits_Is502()
    {
        var small = new Http1Limits { MaxHeadBytes = 64, MaxHeaderCount = 2 };
        var (tooLarge, _, _, e1) = Parse(Single("HTTP/1.1 200 OK\r\nX-A: " + new string('a', 100)), limits: small);
        tooLarge.ShouldBe(ParseStatus.Error);
        e1.StatusCode.ShouldBe(502);
        var (tooMany, _, _, e2) = Parse(Single("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), limits: small);
        tooMany.ShouldBe(ParseStatus.Error);
        e2.StatusCode.ShouldBe(502);
    }

    private static string Describe(ResponseHead head)
    {
        var parts = new List<string>
        {
            head.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture), Text(head.Reason), head.Framing.ToString(),
            head.ContentLength.ToString(System.Globalization.CultureInfo.InvariantCulture), head.KeepAlive.ToString(), head.IsUpgrade.ToString(),
            head.HeadLength.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        for (int i = 0; i < head.HeaderCount; i++)
        {
            parts.Add($"{Text(head.HeaderName(i))}={Text(head.HeaderValue(i))}/{head.IsHopByHop(i)}");
        }

        return string.Join("|", parts);
    }
}
