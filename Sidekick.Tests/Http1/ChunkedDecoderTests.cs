using System.Buffers;
using Sidekick.Http1;
using static Sidekick.Tests.Http1.TestBuffers;

namespace Sidekick.Tests.Http1;

public class ChunkedDecoderTests
{
    private static readonly Http1Limits Limits = new();

    private static readonly string[] ValidBodies =
    [
        "5\r\nhello\r\n0\r\n\r\n",
        "0\r\n\r\n",
        "A;name=value;flag ; q=\"a \\\"b\\\" c\"\r\n0123456789\r\n1\r\n!\r\n000;last\r\nX-Checksum: abc\r\nX-Other:  2 \r\n\r\n",
        "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer-Only: yes\r\n\r\n",
    ];

    private const string Extra = "GET /next HTTP/1.1\r\n\r\n";

    /// <summary>Feeds the decoder like a proxy would: re-presenting unforwarded bytes with each new byte appended.</summary>
    private static (ChunkedStatus Status, long Forwarded, Http1Error Error) FeedByteByByte(byte[] bytes, Http1Limits? limits = null)
    {
        var decoder = new ChunkedDecoder();
        long forwarded = 0;
        for (int end = 1; end <= bytes.Length; end++)
        {
            var window = new ReadOnlySequence<byte>(bytes, (int)forwarded, end - (int)forwarded);
            ChunkedStatus status = decoder.Advance(window, limits ?? Limits, out long forwardable, out Http1Error error);
            forwardable.ShouldBeLessThanOrEqualTo(window.Length);
            forwarded += forwardable;
            if (status != ChunkedStatus.NeedMore)
            {
                return (status, forwarded, error);
            }
        }

        return (ChunkedStatus.NeedMore, forwarded, default);
    }

    private static (ChunkedStatus Status, long Forwardable, Http1Error Error) FeedAll(in ReadOnlySequence<byte> buffer, Http1Limits? limits = null)
    {
        var decoder = new ChunkedDecoder();
        ChunkedStatus status = decoder.Advance(buffer, limits ?? Limits, out long forwardable, out Http1Error error);
        return (status, forwardable, error);
    }

    [Test]
    public void Advance_ValidBodyInOneGo_IsDoneExactlyAtMessageEnd()
    {
        foreach (string body in ValidBodies)
        {
            var (status, forwardable, _) = FeedAll(Single(body + Extra));
            status.ShouldBe(ChunkedStatus.Done, body);
            forwardable.ShouldBe(body.Length);
        }
    }

    [Test]
    public void Advance_ValidBodyByteByByte_IsDoneExactlyAtMessageEnd()
    {
        foreach (string body in ValidBodies)
        {
            var (status, forwarded, _) = FeedByteByByte(Bytes(body + Extra));
            status.ShouldBe(ChunkedStatus.Done, body);
            forwarded.ShouldBe(body.Length);
        }
    }

    [Test]
    public void Advance_ValidBodyOneSegmentPerByte_IsDoneExactlyAtMessageEnd()
    {
        foreach (string body in ValidBodies)
        {
            var (status, forwardable, _) = FeedAll(ByteByByte(Bytes(body + Extra)));
            status.ShouldBe(ChunkedStatus.Done, body);
            forwardable.ShouldBe(body.Length);
        }
    }

    [Test]
    public void Advance_PartialChunkData_IsForwardableBeforeTheChunkEnds()
    {
        var decoder = new ChunkedDecoder();
        decoder.Advance(Single("10\r\nabcd"), Limits, out long first, out _).ShouldBe(ChunkedStatus.NeedMore);
        first.ShouldBe(8);
        decoder.Advance(Single("efghijklmnop\r"), Limits, out long second, out _).ShouldBe(ChunkedStatus.NeedMore);
        second.ShouldBe(12);
        decoder.Advance(Single("\r\n0\r\n\r\n"), Limits, out long third, out _).ShouldBe(ChunkedStatus.Done);
        third.ShouldBe(7);
    }

    [Test]
    public void Advance_IncompleteSizeLine_IsNotForwardable()
    {
        var decoder = new ChunkedDecoder();
        decoder.Advance(Single("5;ext=1\r"), Limits, out long forwardable, out _).ShouldBe(ChunkedStatus.NeedMore);
        forwardable.ShouldBe(0);
    }

    [Test]
    public void Advance_AfterReset_StartsANewMessage()
    {
        var decoder = new ChunkedDecoder();
        decoder.Advance(Single("0\r\n\r\n"), Limits, out _, out _).ShouldBe(ChunkedStatus.Done);
        decoder.Reset();
        decoder.Advance(Single("3\r\nabc"), Limits, out long forwardable, out _).ShouldBe(ChunkedStatus.NeedMore);
        forwardable.ShouldBe(6);
    }

    [TestCase("g\r\nx\r\n0\r\n\r\n", TestName = "Bad hex")]
    [TestCase("\r\n0\r\n\r\n", TestName = "Empty size")]
    [TestCase("-1\r\n\r\n", TestName = "Negative size")]
    [TestCase("5\r\nhelloXX0\r\n\r\n", TestName = "Missing CRLF after data")]
    [TestCase("5\r\nhello\rX0\r\n\r\n", TestName = "CR without LF after data")]
    [TestCase("5\nhello\r\n0\r\n\r\n", TestName = "Bare LF after size")]
    [TestCase("5\r\nhello\n0\r\n\r\n", TestName = "Bare LF after data")]
    [TestCase("0\r\n\n", TestName = "Bare LF as final line")]
    [TestCase("5 \r\nhello\r\n0\r\n\r\n", TestName = "Trailing space after size")]
    [TestCase("5;\r\nhello\r\n0\r\n\r\n", TestName = "Empty extension name")]
    [TestCase("5;a=\r\nhello\r\n0\r\n\r\n", TestName = "Empty extension value")]
    [TestCase("5;a=\"open\r\nhello\r\n0\r\n\r\n", TestName = "Unterminated quoted extension")]
    [TestCase("5;a\rb\r\nhello\r\n0\r\n\r\n", TestName = "Bare CR in extension")]
    [TestCase("8000000000000000\r\n", TestName = "Overflow")]
    [TestCase("0\r\nBad Trailer: x\r\n\r\n", TestName = "Trailer with space in name")]
    [TestCase("0\r\nX-A: 1\r\n folded\r\n\r\n", TestName = "Obs-fold in trailer")]
    [TestCase("0\r\nX-A: a\0b\r\n\r\n", TestName = "NUL in trailer")]
    public void Advance_InvalidBody_IsError(string body)
    {
        FeedAll(Single(body)).Status.ShouldBe(ChunkedStatus.Error);
        FeedByteByByte(Bytes(body)).Status.ShouldBe(ChunkedStatus.Error);
    }

    [Test]
    public void Advance_LargestChunkSize_IsAccepted()
    {
        var (status, forwardable, _) = FeedAll(Single("7FFFFFFFFFFFFFFF\r\nabc"));
        status.ShouldBe(ChunkedStatus.NeedMore);
        forwardable.ShouldBe(21);
    }

    [Test]
    public void Advance_OverlongSizeLine_IsErrorEvenBeforeItEnds()
    {
        var limits = new Http1Limits { MaxChunkLineBytes = 32 };
        FeedAll(Single("5;" + new string('a', 40)), limits).Status.ShouldBe(ChunkedStatus.Error);
        FeedAll(Single("5;" + new string('a', 40) + "\r\nhello\r\n0\r\n\r\n"), limits).Status.ShouldBe(ChunkedStatus.Error);
        FeedAll(Single("5;" + new string('a', 20) + "\r\nhello\r\n0\r\n\r\n"), limits).Status.ShouldBe(ChunkedStatus.Done);
    }

    [Test]
    public void Advance_TrailersOverHeadLimit_IsError()
    {
        var limits = new Http1Limits { MaxHeadBytes = 40 };
        FeedAll(Single("0\r\nX-A: " + new string('a', 20) + "\r\nX-B: " + new string('b', 20) + "\r\n\r\n"), limits).Status.ShouldBe(ChunkedStatus.Error);
        FeedAll(Single("0\r\nX-A: " + new string('a', 20) + "\r\n\r\n"), limits).Status.ShouldBe(ChunkedStatus.Done);
    }
}
