using Sidekick.Core.Config;

namespace Sidekick.Tests.Config;

public class EllipsesTests
{
    private const string FormatTail =
        "), ellipsis range must be provided in format {N...M} where N and M are positive integers, M must be greater than N,  with an allowed minimum range of 4";

    [TestCase(new[] { "http://minio{1...4}:9000" }, true)]
    [TestCase(new[] { "http://a...b" }, true)]
    [TestCase(new[] { "http://{a}" }, true)]
    [TestCase(new[] { "http://minio1:9000" }, false)]
    [TestCase(new[] { "http://{a" }, false)]
    [TestCase(new[] { "http://h{1...2}:9000", "http://x:9000" }, false)]
    [TestCase(new[] { "http://h{1...2}:9000", "http://x{1...2}:9000" }, true)]
    public void HasEllipses_Elements_TrueOnlyWhenEveryElementQualifies(string[] args, bool expected)
    {
        Ellipses.HasEllipses(args).ShouldBe(expected);
    }

    [Test]
    public void Expand_DecimalRange_IsInclusive()
    {
        Ellipses.Expand("http://minio{1...4}:9000").ShouldBe(
            ["http://minio1:9000", "http://minio2:9000", "http://minio3:9000", "http://minio4:9000"]);
    }

    [Test]
    public void Expand_EqualBounds_GivesOneValue()
    {
        Ellipses.Expand("h{7...7}").ShouldBe(["h7"]);
    }

    [Test]
    public void Expand_HexBounds_PrintsLowerCaseHex()
    {
        Ellipses.Expand("{a...f}").ShouldBe(["a", "b", "c", "d", "e", "f"]);
    }

    [Test]
    public void Expand_DecimalStartHexEnd_PrintsAllInHex()
    {
        Ellipses.Expand("{1...a}").ShouldBe(["1", "2", "3", "4", "5", "6", "7", "8", "9", "a"]);
    }

    [Test]
    public void Expand_PaddedHex_PadsToEndWidth()
    {
        var values = Ellipses.Expand("{01...1a}");
        values.Count.ShouldBe(26);
        values[0].ShouldBe("01");
        values[9].ShouldBe("0a");
        values[^1].ShouldBe("1a");
    }

    [Test]
    public void Expand_HexWithLeadingZero_PadsToThreeDigits()
    {
        var values = Ellipses.Expand("{0f...10f}");
        values[0].ShouldBe("00f");
        values[1].ShouldBe("010");
        values[^1].ShouldBe("10f");
        values.Count.ShouldBe(0x10f - 0xf + 1);
    }

    [TestCase("{01...036}", "001", "036", 36)]
    [TestCase("{001...036}", "001", "036", 36)]
    [TestCase("{001...10}", "01", "10", 10)]
    [TestCase("{0...9}", "0", "9", 10)]
    [TestCase("{1...10}", "1", "10", 10)]
    public void Expand_Padding_FollowsStartAndEndTokens(string pattern, string first, string last, int count)
    {
        var values = Ellipses.Expand(pattern);
        values.Count.ShouldBe(count);
        values[0].ShouldBe(first);
        values[^1].ShouldBe(last);
    }

    [Test]
    public void Expand_EndStartingWithZero_PadsEveryValue()
    {
        Ellipses.Expand("{8...010}").ShouldBe(["008", "009", "010"]);
    }

    [Test]
    public void Expand_NoPaddingAndSingleDigitRange_KeepsValuesShort()
    {
        Ellipses.Expand("{0...9}").ShouldAllBe(v => v.Length == 1);
    }

    [Test]
    public void Expand_TwoRanges_LeftMostVariesFastest()
    {
        Ellipses.Expand("http://h{1...2}:900{1...2}").ShouldBe(
            ["http://h1:9001", "http://h2:9001", "http://h1:9002", "http://h2:9002"]);
    }

    [Test]
    public void Expand_ThreeRanges_IsAnOdometerFromTheLeft()
    {
        Ellipses.Expand("{1...2}-{a...b}-{7...8}").ShouldBe(
            ["1-a-7", "2-a-7", "1-b-7", "2-b-7", "1-a-8", "2-a-8", "1-b-8", "2-b-8"]);
    }

    [Test]
    public void Expand_TextBetweenRanges_IsKept()
    {
        Ellipses.Expand("http://rack{1...2}-node{1...1}.dc:9000/p").ShouldBe(
            ["http://rack1-node1.dc:9000/p", "http://rack2-node1.dc:9000/p"]);
    }

    [Test]
    public void Expand_StartBiggerThanEnd_Throws()
    {
        Should.Throw<FormatException>(() => Ellipses.Expand("{5...1}"))
            .Message.ShouldBe("incorrect range start 5 cannot be bigger than end 1");
    }

    [Test]
    public void Expand_StartBiggerThanEndInHex_PrintsDecimalValues()
    {
        Should.Throw<FormatException>(() => Ellipses.Expand("{f...a}"))
            .Message.ShouldBe("incorrect range start 15 cannot be bigger than end 10");
    }

    [Test]
    public void Expand_NotHexLetters_ThrowsParseError()
    {
        Should.Throw<FormatException>(() => Ellipses.Expand("{a...z}"))
            .Message.ShouldBe("strconv.ParseUint: parsing \"z\": invalid syntax");
    }

    [Test]
    public void Expand_EmptyBounds_ThrowsParseError()
    {
        Should.Throw<FormatException>(() => Ellipses.Expand("{...}"))
            .Message.ShouldBe("strconv.ParseUint: parsing \"\": invalid syntax");
    }

    [Test]
    public void Expand_BoundTooBig_ThrowsRangeError()
    {
        Should.Throw<FormatException>(() => Ellipses.Expand("{1...fffffffffffffffff}"))
            .Message.ShouldBe("strconv.ParseUint: parsing \"fffffffffffffffff\": value out of range");
    }

    [TestCase("http://h{A...F}")]
    [TestCase("http://h{1..64}")]
    [TestCase("http://h{1....4}")]
    [TestCase("http://h{1...2O}")]
    [TestCase("http://h{-1...4}")]
    [TestCase("http://h{1-4}")]
    public void Expand_UnrecognisedFormat_ThrowsFormatText(string arg)
    {
        Should.Throw<FormatException>(() => Ellipses.Expand(arg)).Message.ShouldBe("invalid ellipsis format in (" + arg + FormatTail);
    }

    [TestCase("http://h{{1...4}}")]
    [TestCase("http://h{1...4}}")]
    [TestCase("http://{h{1...4}")]
    [TestCase("http://h{1...4}:{9000")]
    public void Expand_LeftOverBraces_ThrowsFormatText(string arg)
    {
        Should.Throw<FormatException>(() => Ellipses.Expand(arg)).Message.ShouldBe("invalid ellipsis format in (" + arg + FormatTail);
    }

    [Test]
    public void Expand_AtTheLimit_Expands()
    {
        Ellipses.Expand("h{1...10000}").Count.ShouldBe(Ellipses.MaxEndpoints);
    }

    [TestCase("h{1...10001}", "10001")]
    [TestCase("h{1...1000}-{1...1000}", "1000000")]
    [TestCase("h{0...ffffffffffffffff}", "18446744073709551616")]
    [TestCase("h{0...ffffffffffffffff}{0...ffffffffffffffff}", "340282366920938463463374607431768211456")]
    public void Expand_OverTheLimit_ThrowsWithTheCount(string arg, string count)
    {
        Should.Throw<FormatException>(() => Ellipses.Expand(arg))
            .Message.ShouldBe($"range expands to {count} endpoints, more than the limit of 10000");
    }

    [Test]
    public void Parse_HugeRange_CountsWithoutExpanding()
    {
        Ellipses.Parse("h{0...ffffffffffffffff}").Count.ShouldBe(System.Numerics.BigInteger.Pow(2, 64));
    }
}
