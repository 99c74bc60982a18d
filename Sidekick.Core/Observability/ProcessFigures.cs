using System.IO.Enumeration;

namespace Sidekick.Core.Observability;

/// <summary>Process-level figures for the metrics page and the diagnostics listener, read on demand.</summary>
internal static class ProcessFigures
{
    /// <summary>User + system CPU time.</summary>
    public static double CpuSeconds() => Environment.CpuUsage.TotalTime.TotalSeconds; // no Process object per scrape

    /// <summary>Resident set size.</summary>
    public static long ResidentBytes()
    {
        // /proc/self/statm's second field is the resident set in pages; Environment.WorkingSet builds a Process
        // object and parses two /proc files for it on every scrape.
        try
        {
            Span<byte> text = stackalloc byte[128];
            int n;
            using (var file = File.OpenHandle("/proc/self/statm"))
            {
                n = RandomAccess.Read(file, text, 0);
            }

            var fields = text[..n];
            var space = fields.IndexOf((byte)' ');
            if (space > 0)
            {
                var rest = fields[(space + 1)..];
                var end = rest.IndexOfAny((byte)' ', (byte)'\n');
                if (System.Buffers.Text.Utf8Parser.TryParse(end < 0 ? rest : rest[..end], out long pages, out _))
                {
                    return pages * Environment.SystemPageSize;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return Environment.WorkingSet; // not Linux
    }

    /// <summary>Open file descriptors (entries of /proc/self/fd), -1 where that is not available.</summary>
    public static long OpenFds()
    {
        try
        {
            if (!Directory.Exists("/proc/self/fd"))
            {
                return -1;
            }

            // Counted without making a path string per descriptor (a scrape of a proxy holding 10,000 connections
            // would otherwise allocate half a megabyte).
            var entries = new FileSystemEnumerable<byte>("/proc/self/fd", static (ref FileSystemEntry _) => 0);
            long count = 0;
            foreach (var _ in entries)
            {
                count++;
            }

            return count;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>Soft limit on open descriptors from /proc/self/limits, -1 when unknown.</summary>
    public static long MaxFds()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var parts = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return parts.Length > 0 && long.TryParse(parts[0], out var n) ? n : -1;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return -1;
    }
}
