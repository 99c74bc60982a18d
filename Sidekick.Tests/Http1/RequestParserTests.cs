using System.Buffers;
using Sidekick.Http1;
using static Sidekick.Tests.Http1.TestBuffers;

namespace Sidekick.Tests.Http1;

public class RequestParserTests
{
    private static readonly Http1Limits Limits = new();

    internal static readonly string[] ValidRequests =
    [
        "GET /bucket/key?versionId=3&x=%2F HTTP/1.1\r\nHost: s3.example.com:9000\r\nUser-Agent: aws-sdk\r\nAuthorization: AWS4-HMAC-SHA256 Credential=a/b, Signature=c\r\nX-Amz-Date: 20240101T000000Z\r\n\r\n",
        "PUT /b/o HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        "POST /up HTTP/1.1\r\nHost: [::1]:8080\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n\r\n",
        "\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        "GET http://example.com:81?q=1 HTTP/1.1\r\nHost: ignored\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n",
    ];

    private static (ParseStatus Status, RequestHead Head, SequencePosition Consumed, Http1Error Error) Parse(in ReadOnlySequence<byte> buffer, Http1Limits? limits = null)
    {
        var head = new RequestHead();
        ParseStatus status = Http1Parser.TryParseRequest(buffer, head, limits ?? Limits, out SequencePosition consumed, out Http1Error error);
        return (status, head, consumed, error);
    }

    private static Http1Error ParseError(string text, Http1Limits? limits = null)
    {
        var (status, _, _, error) = Parse(Single(text), limits);
        status.ShouldBe(ParseStatus.Error, text);
        return error;
    }

    [Test]
    public void ReleaseBuffers_GivesTheHeadMemoryBack_AndTheNextParseIsWhole()
    {
        var head = new RequestHead();
        var many = "GET /a HTTP/1.1\r\nHost: h\r\n" + string.Concat(Enumerable.Range(0, 40).Select(i => $"X-H{i}: {new string('v', 100)}\r\n")) + "\r\n";
        Http1Parser.TryParseRequest(Single(many), head, Limits, out _, out _).ShouldBe(ParseStatus.Complete);
        head.HeaderCount.ShouldBe(41);

        head.ReleaseBuffers();
        head.HeaderCount.ShouldBe(0);
        head.Path.Length.ShouldBe(0);

        foreach (var text in ValidRequests.Append(many))
        {
            Http1Parser.TryParseRequest(Single(text), head, Limits, out _, out var error).ShouldBe(ParseStatus.Complete, error.Reason);
            var fresh = Parse(Single(text)).Head;
            System.Text.Encoding.ASCII.GetString(head.Path).ShouldBe(System.Text.Encoding.ASCII.GetString(fresh.Path));
            head.HeaderCount.ShouldBe(fresh.HeaderCount);
            for (var i = 0; i < fresh.HeaderCount; i++)
            {
                head.HeaderValue(i).SequenceEqual(fresh.HeaderValue(i)).ShouldBeTrue();
            }

            head.ReleaseBuffers();
        }
    }

    [Test]
    public void TryParseRequest_EveryPrefixOfValidRequest_IsIncompleteAndConsumesNothing()
    {
        foreach (string text in ValidRequests)
        {
            byte[] bytes = Bytes(text);
            for (int length = 0; length < bytes.Length; length++)
            {
                var buffer = new ReadOnlySequence<byte>(bytes, 0, length);
                var (status, _, consumed, _) = Parse(buffer);
                status.ShouldBe(ParseStatus.Incomplete, $"prefix {length} of {text}");
                consumed.ShouldBe(buffer.Start);
            }

            Parse(new ReadOnlySequence<byte>(bytes)).Status.ShouldBe(ParseStatus.Complete, text);
        }
    }

    [Test]
    public void TryParseRequest_SplitAtEveryByteBoundary_ParsesIdentically()
    {
        foreach (string text in ValidRequests)
        {
            byte[] bytes = Bytes(text);
            string expected = Describe(Parse(new ReadOnlySequence<byte>(bytes)).Head);
            for (int cut = 0; cut <= bytes.Length; cut++)
            {
                var buffer = Split(bytes, cut);
                var (status, head, consumed, _) = Parse(buffer);
                status.ShouldBe(ParseStatus.Complete, $"cut {cut} of {text}");
                Describe(head).ShouldBe(expected);
                buffer.Slice(consumed).Length.ShouldBe(0);
            }

            var (s, oneByteHead, _, _) = Parse(ByteByByte(bytes));
            s.ShouldBe(ParseStatus.Complete);
            Describe(oneByteHead).ShouldBe(expected);
        }
    }

    [Test]
    public void TryParseRequest_LongHeaderStraddlingSegments_IsCopiedIntact()
    {
        string value = new('v', 1000);
        byte[] bytes = Bytes($"GET / HTTP/1.1\r\nHost: h\r\nX-Long: {value}\r\n\r\n");
        var (status, head, _, _) = Parse(Split(bytes, 40, 500, 900));
        status.ShouldBe(ParseStatus.Complete);
        Text(head.HeaderValue(1)).ShouldBe(value);
    }

    [Test]
    public void TryParseRequest_TypicalS3Get_RecordsEverything()
    {
        var (status, head, consumed, _) = Parse(Single(ValidRequests[0] + "NEXT"));
        status.ShouldBe(ParseStatus.Complete);
        Text(head.Method).ShouldBe("GET");
        head.MethodKind.ShouldBe(HttpMethodKind.Get);
        Text(head.Target).ShouldBe("/bucket/key?versionId=3&x=%2F");
        Text(head.Path).ShouldBe("/bucket/key");
        Text(head.Query).ShouldBe("versionId=3&x=%2F");
        Text(head.Host).ShouldBe("s3.example.com:9000");
        head.IsHttp11.ShouldBeTrue();
        head.KeepAlive.ShouldBeTrue();
        head.Framing.ShouldBe(BodyFraming.None);
        head.HeaderCount.ShouldBe(4);
        Text(head.HeaderName(2)).ShouldBe("Authorization");
        Text(head.HeaderValue(2)).ShouldBe("AWS4-HMAC-SHA256 Credential=a/b, Signature=c");
        head.HeaderKind(0).ShouldBe(KnownHeader.Host);
        head.HeadLength.ShouldBe(ValidRequests[0].Length);
        consumed.GetInteger().ShouldBe(ValidRequests[0].Length);
    }

    [Test]
    public void TryParseRequest_HeadReusedForNextMessage_ForgetsPreviousOne()
    {
        var head = new RequestHead();
        Http1Parser.TryParseRequest(Single(ValidRequests[1]), head, Limits, out _, out _).ShouldBe(ParseStatus.Complete);
        Http1Parser.TryParseRequest(Single("GET /x HTTP/1.1\r\nHost: other\r\n\r\n"), head, Limits, out _, out _).ShouldBe(ParseStatus.Complete);
        head.HeaderCount.ShouldBe(1);
        head.Framing.ShouldBe(BodyFraming.None);
        head.ExpectContinue.ShouldBeFalse();
        Text(head.Host).ShouldBe("other");
    }

    [Test]
    public void TryParseRequest_ValueWithSurroundingWhitespace_IsTrimmed()
    {
        var (_, head, _, _) = Parse(Single("GET / HTTP/1.1\r\nHost:h\r\nX-A: \t a b \t\r\n\r\n"));
        Text(head.HeaderValue(1)).ShouldBe("a b");
        Text(head.Host).ShouldBe("h");
    }

    [TestCase("Expect: 100-continue\r\n", false)]
    [TestCase("Expect: 100-Continue\r\n", false)]
    [TestCase("Expect: something-else\r\n", true)]
    [TestCase("Expect: something-else\r\nExpect: 100-continue\r\n", false)]
    [TestCase("", false)]
    public void TryParseRequest_AnExpectationOtherThan100Continue_IsUnsupported(string expect, bool unsupported)
    {
        var (status, head, _, _) = Parse(Single($"PUT / HTTP/1.1\r\nHost: h\r\n{expect}Content-Length: 1\r\n\r\nx"));
        status.ShouldBe(ParseStatus.Complete);
        head.ExpectationUnsupported.ShouldBe(unsupported);
    }

    [Test]
    public void TryParseRequest_BodyFraming_FollowsHeaders()
    {
        var (_, put, _, _) = Parse(Single(ValidRequests[1]));
        put.Framing.ShouldBe(BodyFraming.ContentLength);
        put.ContentLength.ShouldBe(5);
        put.ExpectContinue.ShouldBeTrue();

        var (_, post, _, _) = Parse(Single(ValidRequests[2]));
        post.Framing.ShouldBe(BodyFraming.Chunked);
        post.TeTrailers.ShouldBeTrue();
        Text(post.Host).ShouldBe("[::1]:8080");

        var (_, zero, _, _) = Parse(Single("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"));
        zero.Framing.ShouldBe(BodyFraming.ContentLength);
        zero.ContentLength.ShouldBe(0);

        var (_, same, _, _) = Parse(Single("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7, 7\r\nContent-Length: 7\r\n\r\n"));
        same.ContentLength.ShouldBe(7);
    }

    [Test]
    public void TryParseRequest_Http10_KeepAliveOnlyWhenAsked()
    {
        var (_, asked, _, _) = Parse(Single(ValidRequests[3]));
        asked.IsHttp11.ShouldBeFalse();
        asked.KeepAlive.ShouldBeTrue();
        asked.HeadLength.ShouldBe(ValidRequests[3].Length);
        asked.Host.IsEmpty.ShouldBeTrue();

        var (_, plain, _, _) = Parse(Single("GET / HTTP/1.0\r\n\r\n"));
        plain.KeepAlive.ShouldBeFalse();

        var (_, close, _, _) = Parse(Single("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
        close.KeepAlive.ShouldBeFalse();
    }

    [Test]
    public void TryParseRequest_ConnectionListsHeaders_TheyBecomeHopByHop()
    {
        var (status, head, _, _) = Parse(Single(
            "GET / HTTP/1.1\r\nHost: h\r\nX-Secret: 1\r\nKeep-Alive: 5\r\nConnection: x-secret, close\r\nContent-Length: 0\r\nx-SECRET: 2\r\nAccept: */*\r\nProxy-Authorization: b\r\n\r\n"));
        status.ShouldBe(ParseStatus.Complete);
        bool[] hop = Enumerable.Range(0, head.HeaderCount).Select(head.IsHopByHop).ToArray();
        hop.ShouldBe([false, true, true, true, false, true, false, true]);
    }

    [Test]
    public void TryParseRequest_ConnectionListsContentLength_ContentLengthStillForwarded()
    {
        var (_, head, _, _) = Parse(Single("POST / HTTP/1.1\r\nHost: h\r\nConnection: content-length, host\r\nContent-Length: 3\r\n\r\n"));
        head.IsHopByHop(0).ShouldBeFalse();
        head.IsHopByHop(2).ShouldBeFalse();
    }

    [Test]
    public void TryParseRequest_Upgrade_NeedsConnectionTokenAndUpgradeHeader()
    {
        var (_, ws, _, _) = Parse(Single(ValidRequests[4]));
        ws.IsUpgrade.ShouldBeTrue();
        Text(ws.UpgradeValue).ShouldBe("websocket");

        var (_, noToken, _, _) = Parse(Single("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n"));
        noToken.IsUpgrade.ShouldBeFalse();
    }

    [Test]
    public void TryParseRequest_AbsoluteForm_BecomesOriginFormWithTargetAuthority()
    {
        var (_, head, _, _) = Parse(Single(ValidRequests[5]));
        head.IsAbsoluteForm.ShouldBeTrue();
        Text(head.OriginForm).ShouldBe("/?q=1");
        Text(head.Path).ShouldBe("/");
        Text(head.Query).ShouldBe("q=1");
        Text(head.Host).ShouldBe("example.com:81");
        Text(head.Target).ShouldBe("http://example.com:81?q=1");

        var (_, https, _, _) = Parse(Single("GET HTTPS://h.example/a/b?c HTTP/1.1\r\nHost: x\r\n\r\n"));
        https.IsAbsoluteForm.ShouldBeTrue();
        Text(https.OriginForm).ShouldBe("/a/b?c");
        Text(https.Host).ShouldBe("h.example");

        var (_, bare, _, _) = Parse(Single("GET http://h.example HTTP/1.0\r\n\r\n"));
        Text(bare.OriginForm).ShouldBe("/");
        Text(bare.Host).ShouldBe("h.example");
    }

    [TestCase("HTTP/1.2")]
    [TestCase("HTTP/1.9")]
    public void TryParseRequest_HigherMinorVersion_IsReadAsHttp11(string version)
    {
        // RFC 9110 2.5: a higher minor version of a major version served is handled as the highest one served.
        var (status, head, _, _) = Parse(Single($"GET / {version}\r\nHost: h\r\n\r\n"));
        status.ShouldBe(ParseStatus.Complete);
        head.IsHttp11.ShouldBeTrue();
        head.KeepAlive.ShouldBeTrue();
    }

    [Test]
    public void TryParseRequest_AsteriskForm_AllowedForOptions()
    {
        var (_, head, _, _) = Parse(Single(ValidRequests[6]));
        head.MethodKind.ShouldBe(HttpMethodKind.Options);
        Text(head.OriginForm).ShouldBe("*");
        head.HeaderValue(1).IsEmpty.ShouldBeTrue();
    }

    [TestCase("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, TestName = "CL+TE")]
    [TestCase("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400, TestName = "TE+CL")]
    [TestCase("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400, TestName = "Duplicate differing CL")]
    [TestCase("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n", 400, TestName = "CL list differing")]
    [TestCase("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 400, TestName = "CL with sign")]
    [TestCase("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 400, TestName = "CL with inner space")]
    [TestCase("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, TestName = "CL overflow")]
    [TestCase("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", 400, TestName = "CL empty")]
    [TestCase("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501, TestName = "TE chunked then gzip")]
    [TestCase("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, TestName = "TE gzip then chunked")]
    [TestCase("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 501, TestName = "TE xchunked")]
    [TestCase("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, TestName = "TE chunked twice")]
    [TestCase("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400, TestName = "TE quoted")]
    [TestCase("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 400, TestName = "TE empty")]
    [TestCase("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, TestName = "TE in HTTP/1.0")]
    [TestCase("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, TestName = "Space before colon")]
    [TestCase("GET / HTTP/1.1\r\nHost: h\r\nX-A\t: 1\r\n\r\n", 400, TestName = "Tab before colon")]
    [TestCase("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n", 400, TestName = "Obs-fold")]
    [TestCase("GET / HTTP/1.1\nHost: h\r\n\r\n", 400, TestName = "Bare LF after request line")]
    [TestCase("GET / HTTP/1.1\r\nHost: h\n\r\n", 400, TestName = "Bare LF after header")]
    [TestCase("GET / HTTP/1.1\r\nHost: h\r\n\n", 400, TestName = "Bare LF as final line")]
    [TestCase("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n", 400, TestName = "Bare CR in value")]
    [TestCase("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400, TestName = "Bare CR in request line")]
    [TestCase("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n", 400, TestName = "NUL in value")]
    [TestCase("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\u007fb\r\n\r\n", 400, TestName = "DEL in value")]
    [TestCase("GET / HTTP/1.1\r\nHost: h\r\nX(A): 1\r\n\r\n", 400, TestName = "Non-token header name")]
    [TestCase("GET / HTTP/1.1\r\nHost: h\r\n: 1\r\n\r\n", 400, TestName = "Empty header name")]
    [TestCase("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400, TestName = "Header without colon")]
    [TestCase("GET / HTTP/1.1\r\n\r\n", 400, TestName = "Missing Host in 1.1")]
    [TestCase("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400, TestName = "Double Host")]
    [TestCase("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, TestName = "Host with space")]
    [TestCase("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, TestName = "Host with slash")]
    [TestCase("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n", 400, TestName = "Host with bad port")]
    [TestCase("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400, TestName = "Host with userinfo")]
    [TestCase("GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", 400, TestName = "Host with bad pct-encoding")]
    [TestCase("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, TestName = "Host with open bracket")]
    [TestCase("GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, TestName = "Empty Host")]
    [TestCase("GET http://h/x HTTP/1.1\r\n\r\n", 400, TestName = "Absolute-form without Host in 1.1")]
    [TestCase("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, TestName = "HTTP/2.0")]
    [TestCase("GET / http/1.1\r\nHost: h\r\n\r\n", 400, TestName = "Lowercase version")]
    [TestCase("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, TestName = "Trailing space after version")]
    [TestCase("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, TestName = "Double space")]
    [TestCase("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400, TestName = "Space in target")]
    [TestCase("\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\r\n\r\n", 400, TestName = "Garbage line")]
    [TestCase("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, TestName = "Non-token method")]
    [TestCase("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405, TestName = "CONNECT")]
    [TestCase("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400, TestName = "Asterisk-form with GET")]
    [TestCase("GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n", 400, TestName = "Authority-form with GET")]
    [TestCase("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400, TestName = "Other scheme")]
    [TestCase("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400, TestName = "Absolute-form without authority")]
    [TestCase("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\n", 400, TestName = "Upgrade with CL body")]
    [TestCase("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nTransfer-Encoding: chunked\r\n\r\n", 400, TestName = "Upgrade with chunked body")]
    [TestCase("GET / HTTP/1.1\r\nHost: h\r\nConnection: a b\r\n\r\n", 400, TestName = "Connection with non-token")]
    public void TryParseRequest_SmugglingVector_IsRejectedWithStatus(string text, int expectedStatus)
    {
        Http1Error error = ParseError(text);
        error.StatusCode.ShouldBe(expectedStatus);
        error.Reason.ShouldNotBeNullOrWhiteSpace();
    }

    [Test]
    public void TryParseRequest_ChunkedInAnyCase_IsChunked()
    {
        var (status, head, _, _) = Parse(Single("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,CHUNKED \r\n\r\n"));
        status.ShouldBe(ParseStatus.Complete);
        head.Framing.ShouldBe(BodyFraming.Chunked);
        head.IsHopByHop(1).ShouldBeTrue();
    }

    [Test]
    public void TryParseRequest_MethodCaseDiffers_IsOtherMethod()
    {
        var (status, head, _, _) = Parse(Single("get / HTTP/1.1\r\nHost: h\r\n\r\n"));
        status.ShouldBe(ParseStatus.Complete);
        head.MethodKind.ShouldBe(HttpMethodKind.Other);
        Text(head.Method).ShouldBe("get");
    }

    [Test]
    public void TryParseRequest_Connect_SaysSidekickIsNotAForwardProxy()
    {
        ParseError("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n").Reason.ShouldBe("CONNECT is not supported: sidekick is not a forward proxy");
    }

    [Test]
    public void TryParseRequest_UpgradeWithZeroContentLength_IsAccepted()
    {
        var (status, head, _, _) = Parse(Single("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n"));
        status.ShouldBe(ParseStatus.Complete);
        head.IsUpgrade.ShouldBeTrue();
    }

    [Test]
    public void TryParseRequest_IncompleteRequestLineOverLimit_Is414()
    {
        var limits = new Http1Limits { MaxRequestLineBytes = 64 };
        var (status, _, consumed, error) = Parse(Single("GET /" + new string('a', 80)), limits);
        status.ShouldBe(ParseStatus.Error);
        error.StatusCode.ShouldBe(414);

        // Just under the limit: still waiting.
        Parse(Single("GET /" + new string('a', 50)), limits).Status.ShouldBe(ParseStatus.Incomplete);
    }

    [Test]
    public void TryParseRequest_CompleteRequestLineOverLimit_Is414()
    {
        var limits = new Http1Limits { MaxRequestLineBytes = 64 };
        ParseError("GET /" + new string('a', 80) + " HTTP/1.1\r\nHost: h\r\n\r\n", limits).StatusCode.ShouldBe(414);
        ParseError("GET /" + new string('a', 80) + " HTTP/1.1\r\nHost: h\r\n\r\n", limits).StatusCode.ShouldBe(414);
    }

    [Test]
    public void TryParseRequest_IncompleteHeadOverLimit_Is431()
    {
        var limits = new Http1Limits { MaxHeadBytes = 256 };
        string text = "GET / HTTP/1.1\r\nHost: h\r\nX-A: " + new string('a', 300);
        var (status, _, _, error) = Parse(Split(Bytes(text), 20, 100), limits);
        status.ShouldBe(ParseStatus.Error);
        error.StatusCode.ShouldBe(431);
    }

    [Test]
    public void TryParseRequest_CompleteHeadOverLimit_Is431()
    {
        var limits = new Http1Limits { MaxHeadBytes = 256 };
        string text = "GET / HTTP/1.1\r\nHost: h\r\n" + string.Concat(Enumerable.Range(0, 30).Select(i => $"X-{i}: v\r\n")) + "\r\n";
        ParseError(text, limits).StatusCode.ShouldBe(431);
        Parse(Single(text)).Status.ShouldBe(ParseStatus.Complete);
    }

    [Test]
    public void TryParseRequest_TooManyHeaders_Is431()
    {
        var limits = new Http1Limits { MaxHeaderCount = 3 };
        ParseError("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits).StatusCode.ShouldBe(431);
        Parse(Single("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n"), limits).Status.ShouldBe(ParseStatus.Complete);
    }

    private static string Describe(RequestHead head)
    {
        var parts = new List<string>
        {
            Text(head.Method), Text(head.Target), Text(head.OriginForm), Text(head.Host), head.Framing.ToString(),
            head.ContentLength.ToString(System.Globalization.CultureInfo.InvariantCulture), head.KeepAlive.ToString(),
            head.IsUpgrade.ToString(), head.HeadLength.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        for (int i = 0; i < head.HeaderCount; i++)
        {
            parts.Add($"{Text(head.HeaderName(i))}={Text(head.HeaderValue(i))}/{head.IsHopByHop(i)}");
        }

        return string.Join("|", parts);
    }
}
