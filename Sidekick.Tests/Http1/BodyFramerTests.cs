using System.Buffers;
using System.Text;
using Sidekick.Http1;

namespace Sidekick.Tests.Http1;

public class BodyFramerTests
{
    private static readonly Http1Limits Limits = new();

    private static ReadOnlySequence<byte> Bytes(string s) => new(Encoding.ASCII.GetBytes(s));

    [Test]
    public void ContentLength_CountsDownAcrossCalls_AndNeverTakesBytesBeyondTheBody()
    {
        var body = default(BodyFramer);
        body.Reset(BodyFraming.ContentLength, 8);

        body.Advance(Bytes("hello"), Limits, out var first, out _).ShouldBe(ChunkedStatus.NeedMore);
        body.Advance(Bytes("abcGET / HTTP/1.1"), Limits, out var second, out _).ShouldBe(ChunkedStatus.Done);

        first.ShouldBe(5);
        second.ShouldBe(3);
    }

    [TestCase(BodyFraming.None, 0)]
    [TestCase(BodyFraming.ContentLength, 0)]
    public void NoBody_IsEmpty_AndDoneAtOnce(BodyFraming framing, long length)
    {
        var body = default(BodyFramer);
        body.Reset(framing, length);

        body.IsEmpty.ShouldBeTrue();
        body.Advance(Bytes("next request"), Limits, out var take, out _).ShouldBe(ChunkedStatus.Done);
        take.ShouldBe(0);
    }

    [Test]
    public void UntilClose_TakesEverything_AndIsNeverDoneByItself()
    {
        var body = default(BodyFramer);
        body.Reset(BodyFraming.UntilClose, 0);

        body.Advance(Bytes("streaming"), Limits, out var take, out _).ShouldBe(ChunkedStatus.NeedMore);
        take.ShouldBe(9);
        body.IsEmpty.ShouldBeFalse();
    }

    [Test]
    public void Chunked_EndsExactlyAtTheLastChunk_AndReportsMalformedInput()
    {
        const string message = "3;x=1\r\nabc\r\n0\r\nT: 1\r\n\r\n";
        var body = default(BodyFramer);
        body.Reset(BodyFraming.Chunked, 0);

        body.Advance(Bytes(message + "GET /"), Limits, out var take, out _).ShouldBe(ChunkedStatus.Done);
        take.ShouldBe(message.Length);

        body.Reset(BodyFraming.Chunked, 0);
        body.Advance(Bytes("zz\r\n"), Limits, out _, out var error).ShouldBe(ChunkedStatus.Error);
        error.StatusCode.ShouldBe(400);
    }
}
