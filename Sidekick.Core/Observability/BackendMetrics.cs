namespace Sidekick.Core.Observability;

/// <summary>
/// Per-backend figures beside the original's counters on <see cref="Backends.Backend"/>: latency and
/// time-to-first-byte histograms of proxied requests, and health-check failures. Lives on the Backend object,
/// so it survives SIGHUP for unchanged endpoints as the counters do.
/// </summary>
public sealed class BackendMetrics
{
    private long _probeFailures;
    private long _healthErrors;

    /// <summary>Proxied request duration: from the start of the attempt on this backend to its end.</summary>
    public LatencyHistogram Duration { get; } = new();

    /// <summary>Time from the start of the attempt to the first response byte from the backend.</summary>
    public LatencyHistogram TimeToFirstByte { get; } = new();

    /// <summary>Active health probes that did not return 200.</summary>
    public long ProbeFailures => Volatile.Read(ref _probeFailures);

    /// <summary>Health errors: failed probes plus passive failures (transport faults seen by traffic).</summary>
    public long HealthErrors => Volatile.Read(ref _healthErrors);

    internal void CountProbeFailure()
    {
        Interlocked.Increment(ref _probeFailures);
        Interlocked.Increment(ref _healthErrors);
    }

    internal void CountPassiveFailure() => Interlocked.Increment(ref _healthErrors);
}
