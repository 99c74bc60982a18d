using System.Globalization;
using Sidekick.Core.Config;

namespace Sidekick.Cli.Output;

/// <summary>Small text helpers shared by the log, trace and table output (Go formats the original printed).</summary>
internal static class ConsoleText
{
    /// <summary>Go layout 15:04:05.000, UTC (E2).</summary>
    public static string Clock(DateTime utc) => utc.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);

    /// <summary>Go's RFC3339Nano: fractional seconds with trailing zeros removed, 'Z' for UTC.</summary>
    public static string Rfc3339Nano(DateTime utc)
    {
        var s = utc.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);
        var fraction = (utc.Ticks % TimeSpan.TicksPerSecond).ToString("0000000", CultureInfo.InvariantCulture).TrimEnd('0');
        return fraction.Length == 0 ? s + "Z" : s + "." + fraction + "Z";
    }

    /// <summary>IEC units as go-humanize's IBytes: <c>512 B</c>, <c>1.5 KiB</c>, <c>10 MiB</c>.</summary>
    public static string Iec(long bytes)
    {
        if (bytes < 1024)
        {
            return bytes.ToString(CultureInfo.InvariantCulture) + " B";
        }

        string[] units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        double value = bytes;
        var unit = -1;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        var format = value < 10 ? "0.0" : "0";
        return value.ToString(format, CultureInfo.InvariantCulture) + " " + units[unit];
    }

    /// <summary>A duration rounded to the microsecond in Go's Duration.String form (I3, I6).</summary>
    public static string Micros(TimeSpan value) =>
        GoDuration.Format(TimeSpan.FromTicks((long)Math.Round(value.Ticks / 10.0, MidpointRounding.AwayFromZero) * 10));

    /// <summary>1st, 2nd, 3rd, 4th … 11th, 12th, 13th, 21st …</summary>
    public static string Ordinal(int n)
    {
        var suffix = (n % 100) is 11 or 12 or 13 ? "th" : (n % 10) switch
        {
            1 => "st",
            2 => "nd",
            3 => "rd",
            _ => "th",
        };
        return n.ToString(CultureInfo.InvariantCulture) + suffix;
    }
}
