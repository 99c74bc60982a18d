using System.Runtime.InteropServices;

namespace Sidekick.Cli;

/// <summary>J3: raise the soft limit of open files to the hard limit, so many connections fit. Errors are ignored, as the original.</summary>
internal static partial class ResourceLimits
{
    private const int RlimitNofile = 7; // Linux

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    /// <summary>Returns the soft limit in effect afterwards, or -1 when unknown.</summary>
    public static long RaiseOpenFiles()
    {
        if (!OperatingSystem.IsLinux())
        {
            return -1;
        }

        try
        {
            if (GetRLimit(RlimitNofile, out var limit) != 0)
            {
                return -1;
            }

            if (limit.Current < limit.Maximum)
            {
                var raised = limit with { Current = limit.Maximum };
                if (SetRLimit(RlimitNofile, in raised) == 0)
                {
                    return (long)Math.Min(raised.Current, long.MaxValue);
                }
            }

            return (long)Math.Min(limit.Current, long.MaxValue);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return -1;
        }
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, in RLimit limit);
}
