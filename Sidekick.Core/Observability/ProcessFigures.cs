using System.Diagnostics;

namespace Sidekick.Core.Observability;

/// <summary>Process-level figures for the metrics page and the diagnostics listener, read on demand.</summary>
internal static class ProcessFigures
{
    /// <summary>User + system CPU time.</summary>
    public static double CpuSeconds()
    {
        using var p = Process.GetCurrentProcess();
        return p.TotalProcessorTime.TotalSeconds;
    }

    /// <summary>Resident set size.</summary>
    public static long ResidentBytes() => Environment.WorkingSet;

    /// <summary>Open file descriptors (entries of /proc/self/fd), -1 where that is not available.</summary>
    public static long OpenFds()
    {
        try
        {
            return Directory.Exists("/proc/self/fd") ? Directory.EnumerateFileSystemEntries("/proc/self/fd").LongCount() : -1;
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
