using Sidekick.Core.Config;

namespace Sidekick.Tests.Config;

public class GoDurationTests
{
    private const long Ns = 1;
    private const long Us = 1000 * Ns;
    private const long Ms = 1000 * Us;
    private const long S = 1000 * Ms;
    private const long M = 60 * S;
    private const long H = 60 * M;

    // Go's own ParseDuration table (time_test.go), in nanoseconds; sub-100 ns parts are truncated to ticks.
    [TestCase("0", 0L)]
    [TestCase("5s", 5 * S)]
    [TestCase("30s", 30 * S)]
    [TestCase("1478s", 1478 * S)]
    [TestCase("-5s", -5 * S)]
    [TestCase("+5s", 5 * S)]
    [TestCase("-0", 0L)]
    [TestCase("+0", 0L)]
    [TestCase("5.0s", 5 * S)]
    [TestCase("5.6s", (5 * S) + (600 * Ms))]
    [TestCase("5.s", 5 * S)]
    [TestCase(".5s", 500 * Ms)]
    [TestCase("1.0s", 1 * S)]
    [TestCase("1.00s", 1 * S)]
    [TestCase("1.004s", (1 * S) + (4 * Ms))]
    [TestCase("1.0040s", (1 * S) + (4 * Ms))]
    [TestCase("100.00100s", (100 * S) + (1 * Ms))]
    [TestCase("100ns", 100 * Ns)]
    [TestCase("11us", 11 * Us)]
    [TestCase("12\u00b5s", 12 * Us)]
    [TestCase("12\u03bcs", 12 * Us)]
    [TestCase("13ms", 13 * Ms)]
    [TestCase("14s", 14 * S)]
    [TestCase("15m", 15 * M)]
    [TestCase("16h", 16 * H)]
    [TestCase("3h30m", (3 * H) + (30 * M))]
    [TestCase("10.5s4m", (4 * M) + (10 * S) + (500 * Ms))]
    [TestCase("-2m3.4s", -((2 * M) + (3 * S) + (400 * Ms)))]
    [TestCase("1h2m3s4ms5us600ns", (1 * H) + (2 * M) + (3 * S) + (4 * Ms) + (5 * Us) + (600 * Ns))]
    [TestCase("39h9m14.425s", (39 * H) + (9 * M) + (14 * S) + (425 * Ms))]
    [TestCase("52763797000ns", 52763797000 * Ns)]
    [TestCase("0.3333333333333333333h", 20 * M)]
    [TestCase("1.5h", (1 * H) + (30 * M))]
    [TestCase("10m0s", 10 * M)]
    [TestCase("9223372036854775807ns", 9223372036854775800L)]
    [TestCase("-9223372036854775808ns", -9223372036854775800L)]
    public void Parse_ValidGoDuration_ReturnsItsValue(string text, long nanoseconds)
    {
        GoDuration.Parse(text).Ticks.ShouldBe(nanoseconds / 100);
    }

    [TestCase("1ns", 1L)]
    [TestCase("99ns", 1L)]
    [TestCase("-1ns", -1L)]
    [TestCase("0ns", 0L)]
    public void Parse_NonZeroDurationBelowATick_IsOneTick(string text, long ticks)
    {
        // A positive Go duration stays positive: --health-timeout 1ns was refused as "must be positive".
        GoDuration.Parse(text).Ticks.ShouldBe(ticks);
    }

    [TestCase("5", "time: missing unit in duration \"5\"")]
    [TestCase("3", "time: missing unit in duration \"3\"")]
    [TestCase("1d", "time: unknown unit \"d\" in duration \"1d\"")]
    [TestCase("1h1x", "time: unknown unit \"x\" in duration \"1h1x\"")]
    [TestCase("x", "time: invalid duration \"x\"")]
    [TestCase("", "time: invalid duration \"\"")]
    [TestCase("-", "time: invalid duration \"-\"")]
    [TestCase("s", "time: invalid duration \"s\"")]
    [TestCase(".", "time: invalid duration \".\"")]
    [TestCase("-.", "time: invalid duration \"-.\"")]
    [TestCase(".s", "time: invalid duration \".s\"")]
    [TestCase("+.s", "time: invalid duration \"+.s\"")]
    [TestCase("1s ", "time: unknown unit \"s \" in duration \"1s \"")]
    [TestCase("9223372036854775810ns", "time: invalid duration \"9223372036854775810ns\"")]
    [TestCase("9223372036854775808ns", "time: invalid duration \"9223372036854775808ns\"")]
    [TestCase("-9223372036854775809ns", "time: invalid duration \"-9223372036854775809ns\"")]
    [TestCase("3000000h", "time: invalid duration \"3000000h\"")]
    public void Parse_InvalidText_ThrowsGoMessage(string text, string message)
    {
        Should.Throw<FormatException>(() => GoDuration.Parse(text)).Message.ShouldBe(message);
        GoDuration.TryParse(text, out _, out var error).ShouldBeFalse();
        error.ShouldBe(message);
    }

    [TestCase(0L, "0s")]
    [TestCase(5 * S, "5s")]
    [TestCase(10 * S, "10s")]
    [TestCase(25 * S, "25s")]
    [TestCase(10 * M, "10m0s")]
    [TestCase(2 * M, "2m0s")]
    [TestCase((1 * H) + (30 * M), "1h30m0s")]
    [TestCase(1 * H, "1h0m0s")]
    [TestCase(500 * Ms, "500ms")]
    [TestCase(1500 * Ms, "1.5s")]
    [TestCase((1 * M) + (30 * S), "1m30s")]
    [TestCase(1500 * Us, "1.5ms")]
    [TestCase(1 * Us, "1\u00b5s")]
    [TestCase(100 * Ns, "100ns")]
    [TestCase(-5 * S, "-5s")]
    [TestCase((2 * H) + (3 * S) + (4 * Ms), "2h0m3.004s")]
    public void Format_Duration_PrintsGoText(long nanoseconds, string expected)
    {
        GoDuration.Format(TimeSpan.FromTicks(nanoseconds / 100)).ShouldBe(expected);
    }

    [TestCase("1h30m0s")]
    [TestCase("1.5s")]
    [TestCase("10m0s")]
    [TestCase("39h9m14.425s")]
    public void Format_ParsedText_RoundTrips(string text)
    {
        GoDuration.Format(GoDuration.Parse(text)).ShouldBe(text);
    }
}
