namespace Sidekick.Core.Observability;

/// <summary>Server-wide counters: responses sidekick wrote itself (by status) and trace records dropped.</summary>
public sealed class ServerMetrics
{
    private readonly long[] _localResponses = new long[600];
    private long _traceDropped;

    /// <summary>Wall-clock start of the process (process_start_time_seconds).</summary>
    public static DateTimeOffset ProcessStart { get; } = GetProcessStart();

    /// <summary>Trace records dropped because the writer fell behind.</summary>
    public long TraceDropped => Volatile.Read(ref _traceDropped);

    /// <summary>Error responses sidekick generated itself with status <paramref name="status"/>.</summary>
    public long LocalResponses(int status) => (uint)status < _localResponses.Length ? Volatile.Read(ref _localResponses[status]) : 0;

    /// <summary>Every status with a non-zero local response count, ascending.</summary>
    public IEnumerable<(int Status, long Count)> LocalResponseCounts()
    {
        for (var s = 100; s < _localResponses.Length; s++)
        {
            var n = Volatile.Read(ref _localResponses[s]);
            if (n != 0)
            {
                yield return (s, n);
            }
        }
    }

    internal void CountLocalResponse(int status)
    {
        if ((uint)status < _localResponses.Length)
        {
            Interlocked.Increment(ref _localResponses[status]);
        }
    }

    internal void CountTraceDropped() => Interlocked.Increment(ref _traceDropped);

    private static DateTimeOffset GetProcessStart()
    {
        try
        {
            using var p = System.Diagnostics.Process.GetCurrentProcess();
            return new DateTimeOffset(p.StartTime.ToUniversalTime(), TimeSpan.Zero);
        }
        catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException or System.ComponentModel.Win32Exception)
        {
            return DateTimeOffset.UtcNow;
        }
    }
}
