using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;

namespace Sidekick.Core.Config;

/// <summary>
/// The range form of minio/pkg's ellipses syntax as sidekick uses it (B3, B4, appendix E1):
/// <c>http://minio{1...4}:9000</c> → minio1 … minio4. Only <c>{N...M}</c> ranges; the comma is the pool separator.
/// </summary>
public static partial class Ellipses
{
    /// <summary>Most endpoints one site may expand to (not in the original, which had no bound; E1 last bullet).</summary>
    public const int MaxEndpoints = 10_000;

    /// <summary>E1 detection: true only if every argument contains <c>...</c> or both <c>{</c> and <c>}</c>.</summary>
    public static bool HasEllipses(IEnumerable<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        foreach (var arg in args)
        {
            if (!(arg.Contains("...", StringComparison.Ordinal) || (arg.Contains('{', StringComparison.Ordinal) && arg.Contains('}', StringComparison.Ordinal))))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Parses one argument into its ranges without expanding it. Throws <see cref="FormatException"/> with the
    /// original's error text (which the caller wraps as <c>unable to parse input arg ARG: ERR</c>).
    /// </summary>
    public static EllipsesPattern Parse(string arg)
    {
        ArgumentNullException.ThrowIfNull(arg);

        // E1: the pattern is applied repeatedly from the right (the first group is greedy), so the
        // right-most range is found first and the text before it is searched again.
        var ranges = new List<EllipsesRange>();
        var literals = new List<string>();
        var rest = arg;
        while (RangePattern().Match(rest) is { Success: true } match)
        {
            ranges.Add(EllipsesRange.Parse(match.Groups[2].Value));
            literals.Add(match.Groups[3].Value);
            rest = match.Groups[1].Value;
        }

        if (ranges.Count == 0)
        {
            throw new FormatException(InvalidFormat(arg));
        }

        literals.Add(rest);
        ranges.Reverse();
        literals.Reverse();

        // Left-over braces mean a typo or nesting such as {{1...4}}.
        if (literals.Exists(l => l.Contains('{', StringComparison.Ordinal) || l.Contains('}', StringComparison.Ordinal)))
        {
            throw new FormatException(InvalidFormat(arg));
        }

        return new EllipsesPattern(literals, ranges);
    }

    /// <summary>Parses and expands one argument, refusing more than <see cref="MaxEndpoints"/> results.</summary>
    public static IReadOnlyList<string> Expand(string arg)
    {
        var pattern = Parse(arg);
        if (pattern.Count > MaxEndpoints)
        {
            throw new FormatException(TooMany(pattern.Count));
        }

        return pattern.Expand();
    }

    internal static string TooMany(BigInteger count) =>
        string.Create(CultureInfo.InvariantCulture, $"range expands to {count} endpoints, more than the limit of {MaxEndpoints}");

    private static string InvalidFormat(string arg) =>
        $"invalid ellipsis format in ({arg}), ellipsis range must be provided in format {{N...M}} where N and M are positive integers, M must be greater than N,  with an allowed minimum range of 4";

    [GeneratedRegex(@"(.*)(\{[0-9a-z]*\.\.\.[0-9a-z]*\})(.*)", RegexOptions.CultureInvariant)]
    private static partial Regex RangePattern();
}

/// <summary>One argument split into literal text and ranges: literal0 range0 literal1 range1 … literalN.</summary>
public sealed class EllipsesPattern
{
    private readonly IReadOnlyList<string> _literals;
    private readonly IReadOnlyList<EllipsesRange> _ranges;

    internal EllipsesPattern(IReadOnlyList<string> literals, IReadOnlyList<EllipsesRange> ranges)
    {
        _literals = literals;
        _ranges = ranges;
        Count = BigInteger.One;
        foreach (var range in ranges)
        {
            Count *= range.Count;
        }
    }

    /// <summary>How many endpoints <see cref="Expand"/> would produce (computed without expanding).</summary>
    public BigInteger Count { get; }

    /// <summary>The cartesian product, left-most range varying fastest (E1).</summary>
    public IReadOnlyList<string> Expand()
    {
        if (Count > int.MaxValue)
        {
            throw new InvalidOperationException(Ellipses.TooMany(Count));
        }

        var result = new List<string>((int)Count);
        var offsets = new ulong[_ranges.Count];
        var sb = new StringBuilder();
        for (var n = 0; n < (int)Count; n++)
        {
            sb.Clear().Append(_literals[0]);
            for (var i = 0; i < _ranges.Count; i++)
            {
                sb.Append(_ranges[i].Format(_ranges[i].Start + offsets[i])).Append(_literals[i + 1]);
            }

            result.Add(sb.ToString());

            // Odometer: the left-most digit turns first.
            for (var i = 0; i < offsets.Length; i++)
            {
                if (++offsets[i] < _ranges[i].Count)
                {
                    break;
                }

                offsets[i] = 0;
            }
        }

        return result;
    }
}

/// <summary>One <c>{START...END}</c> range: bounds decimal, else hexadecimal, each on its own (E1).</summary>
internal sealed record EllipsesRange(ulong Start, ulong End, bool Hexadecimal, int Width)
{
    /// <summary>Number of values; a full 0…ulong.MaxValue range has 2^64, so the type is wider than ulong.</summary>
    public UInt128 Count => (UInt128)End - Start + 1;

    public static EllipsesRange Parse(string token)
    {
        var inner = token[1..^1];
        var bounds = inner.Split("...");
        if (bounds.Length != 2)
        {
            throw new FormatException("invalid argument");
        }

        var (start, startHex) = ParseBound(bounds[0]);
        var (end, endHex) = ParseBound(bounds[1]);
        if (start > end)
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"incorrect range start {start} cannot be bigger than end {end}"));
        }

        // Padding when START has a leading zero and more than one character, or END starts with zero;
        // the width is the length of the END token.
        var padded = (bounds[0].StartsWith('0') && bounds[0].Length > 1) || bounds[1].StartsWith('0');
        return new EllipsesRange(start, end, startHex || endHex, padded ? bounds[1].Length : 0);
    }

    public string Format(ulong value)
    {
        var text = value.ToString(Hexadecimal ? "x" : "d", CultureInfo.InvariantCulture);
        return text.PadLeft(Width, '0');
    }

    // strconv.ParseUint(s, 10, 64), then strconv.ParseUint(s, 16, 64); the hex attempt's error is reported.
    private static (ulong Value, bool Hex) ParseBound(string bound)
    {
        if (TryParseUnsigned(bound, 10, out var value, out _))
        {
            return (value, false);
        }

        return TryParseUnsigned(bound, 16, out value, out var error) ? (value, true) : throw new FormatException(error);
    }

    private static bool TryParseUnsigned(string s, uint radix, out ulong value, out string error)
    {
        value = 0;
        error = string.Empty;
        if (s.Length == 0)
        {
            error = $"strconv.ParseUint: parsing {GoDuration.Quote(s)}: invalid syntax";
            return false;
        }

        foreach (var c in s)
        {
            var digit = c switch
            {
                >= '0' and <= '9' => (uint)(c - '0'),
                >= 'a' and <= 'z' => (uint)(c - 'a' + 10),
                >= 'A' and <= 'Z' => (uint)(c - 'A' + 10),
                _ => uint.MaxValue,
            };
            if (digit >= radix)
            {
                error = $"strconv.ParseUint: parsing {GoDuration.Quote(s)}: invalid syntax";
                return false;
            }

            var next = ((UInt128)value * radix) + digit;
            if (next > ulong.MaxValue)
            {
                error = $"strconv.ParseUint: parsing {GoDuration.Quote(s)}: value out of range";
                return false;
            }

            value = (ulong)next;
        }

        return true;
    }
}
