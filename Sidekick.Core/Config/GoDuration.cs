using System.Globalization;
using System.Text;

namespace Sidekick.Core.Config;

/// <summary>
/// Go duration text (<c>time.ParseDuration</c> / <c>Duration.String</c>), because every duration flag of the
/// original takes Go syntax (A6, A7, A22): <c>5s</c>, <c>1m30s</c>, <c>1.5h</c>, <c>500ms</c>; a bare number is rejected.
/// </summary>
public static class GoDuration
{
    private const ulong Nanosecond = 1;
    private const ulong Microsecond = 1000 * Nanosecond;
    private const ulong Millisecond = 1000 * Microsecond;
    private const ulong Second = 1000 * Millisecond;
    private const ulong Minute = 60 * Second;
    private const ulong Hour = 60 * Minute;
    private const ulong NanosecondsPerTick = 100;
    private const ulong Limit = 1UL << 63;

    /// <summary>Parses <paramref name="text"/> as Go does; throws <see cref="FormatException"/> with Go's message.</summary>
    public static TimeSpan Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var value, out var error) ? value : throw new FormatException(error);
    }

    /// <summary>Parses <paramref name="text"/> as Go does; on failure <paramref name="error"/> holds Go's message.</summary>
    public static bool TryParse(string text, out TimeSpan value, out string error)
    {
        ArgumentNullException.ThrowIfNull(text);
        value = TimeSpan.Zero;
        error = string.Empty;
        var s = text.AsSpan();
        var negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
        {
            negative = s[0] == '-';
            s = s[1..];
        }

        // Go special-cases a lone "0" (no unit needed).
        if (s is "0")
        {
            return true;
        }

        if (s.IsEmpty)
        {
            error = Invalid(text);
            return false;
        }

        ulong total = 0;
        while (!s.IsEmpty)
        {
            if (!(s[0] == '.' || char.IsAsciiDigit(s[0])))
            {
                error = Invalid(text);
                return false;
            }

            var before = s.Length;
            if (!TryLeadingInt(ref s, out var whole))
            {
                error = Invalid(text);
                return false;
            }

            var hasWhole = before != s.Length;
            ulong fraction = 0;
            var scale = 1.0;
            var hasFraction = false;
            if (!s.IsEmpty && s[0] == '.')
            {
                s = s[1..];
                before = s.Length;
                LeadingFraction(ref s, out fraction, out scale);
                hasFraction = before != s.Length;
            }

            if (!hasWhole && !hasFraction)
            {
                error = Invalid(text);
                return false;
            }

            var unitLength = 0;
            while (unitLength < s.Length && s[unitLength] != '.' && !char.IsAsciiDigit(s[unitLength]))
            {
                unitLength++;
            }

            if (unitLength == 0)
            {
                error = $"time: missing unit in duration {Quote(text)}";
                return false;
            }

            var unitText = s[..unitLength];
            s = s[unitLength..];
            var unit = UnitOf(unitText);
            if (unit == 0)
            {
                error = $"time: unknown unit {Quote(unitText.ToString())} in duration {Quote(text)}";
                return false;
            }

            if (whole > Limit / unit)
            {
                error = Invalid(text);
                return false;
            }

            whole *= unit;
            if (fraction > 0)
            {
                whole += (ulong)(fraction * (unit / scale));
                if (whole > Limit)
                {
                    error = Invalid(text);
                    return false;
                }
            }

            total += whole;
            if (total > Limit)
            {
                error = Invalid(text);
                return false;
            }
        }

        if (!negative && total > Limit - 1)
        {
            error = Invalid(text);
            return false;
        }

        // TimeSpan counts 100 ns ticks: a duration shorter than that but not zero ("1ns") is one tick, not zero, so
        // that a positive duration stays positive (a flag that refuses zero accepts it, as Go does).
        var ticks = (long)(total / NanosecondsPerTick);
        if (ticks == 0 && total > 0)
        {
            ticks = 1;
        }

        value = TimeSpan.FromTicks(negative ? -ticks : ticks);
        return true;
    }

    /// <summary>Formats like Go's <c>Duration.String</c>: <c>0s</c>, <c>500ms</c>, <c>1.5s</c>, <c>10m0s</c>, <c>1h30m0s</c>.</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero)
        {
            return "0s";
        }

        var sign = value.Ticks < 0 ? "-" : string.Empty;
        var ticks = value.Ticks == long.MinValue ? (UInt128)long.MaxValue + 1 : (UInt128)Math.Abs(value.Ticks);
        var nanos = ticks * NanosecondsPerTick;
        if (nanos < Second)
        {
            // Sub-second values use the largest unit below one second, as Go does.
            var (precision, suffix) = nanos < Microsecond ? (0, "ns") : nanos < Millisecond ? (3, "\u00b5s") : (6, "ms");
            return sign + Decimal(nanos, precision, out _) + suffix;
        }

        var seconds = Decimal(nanos, 9, out var wholeSeconds);
        var fraction = seconds[wholeSeconds.ToString(CultureInfo.InvariantCulture).Length..];
        var minutes = wholeSeconds / 60;
        var hours = minutes / 60;
        var sb = new StringBuilder(sign);
        if (hours > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{hours}h");
        }

        if (minutes > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{minutes % 60}m");
        }

        return sb.Append(CultureInfo.InvariantCulture, $"{wholeSeconds % 60}{fraction}s").ToString();
    }

    // value / 10^precision with the fraction's trailing zeros (and then a bare '.') removed, as Go's fmtFrac.
    private static string Decimal(UInt128 value, int precision, out UInt128 whole)
    {
        UInt128 divisor = 1;
        for (var i = 0; i < precision; i++)
        {
            divisor *= 10;
        }

        whole = value / divisor;
        var text = whole.ToString(CultureInfo.InvariantCulture);
        var fraction = precision == 0
            ? string.Empty
            : (value % divisor).ToString(CultureInfo.InvariantCulture).PadLeft(precision, '0').TrimEnd('0');
        return fraction.Length == 0 ? text : text + "." + fraction;
    }

    private static ulong UnitOf(ReadOnlySpan<char> unit) => unit switch
    {
        "ns" => Nanosecond,
        "us" or "\u00b5s" or "\u03bcs" => Microsecond,
        "ms" => Millisecond,
        "s" => Second,
        "m" => Minute,
        "h" => Hour,
        _ => 0,
    };

    private static bool TryLeadingInt(ref ReadOnlySpan<char> s, out ulong value)
    {
        value = 0;
        var i = 0;
        for (; i < s.Length && char.IsAsciiDigit(s[i]); i++)
        {
            if (value > Limit / 10)
            {
                return false;
            }

            value = (value * 10) + (ulong)(s[i] - '0');
            if (value > Limit)
            {
                return false;
            }
        }

        s = s[i..];
        return true;
    }

    // Digits after the point: keeps accumulating until precision would overflow, then only consumes (Go's leadingFraction).
    private static void LeadingFraction(ref ReadOnlySpan<char> s, out ulong value, out double scale)
    {
        value = 0;
        scale = 1;
        var overflow = false;
        var i = 0;
        for (; i < s.Length && char.IsAsciiDigit(s[i]); i++)
        {
            if (overflow)
            {
                continue;
            }

            if (value > (long.MaxValue / 10))
            {
                overflow = true;
                continue;
            }

            var next = (value * 10) + (ulong)(s[i] - '0');
            if (next > long.MaxValue)
            {
                overflow = true;
                continue;
            }

            value = next;
            scale *= 10;
        }

        s = s[i..];
    }

    private static string Invalid(string text) => $"time: invalid duration {Quote(text)}";

    /// <summary>Go's <c>strconv.Quote</c> for the characters that matter in flag values.</summary>
    internal static string Quote(string text)
    {
        var sb = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            _ = c switch
            {
                '"' => sb.Append("\\\""),
                '\\' => sb.Append("\\\\"),
                '\n' => sb.Append("\\n"),
                '\t' => sb.Append("\\t"),
                '\r' => sb.Append("\\r"),
                _ when char.IsControl(c) => sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}"),
                _ => sb.Append(c),
            };
        }

        return sb.Append('"').ToString();
    }
}
