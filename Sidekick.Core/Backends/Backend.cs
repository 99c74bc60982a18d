using Sidekick.Core.Config;
using Sidekick.Core.Upstream;

namespace Sidekick.Core.Backends;

/// <summary>
/// One backend endpoint: its state and counters. Shared state is only ever touched with
/// <see cref="Interlocked"/> or volatile reads, so the request path takes no lock here.
/// </summary>
public sealed class Backend
{
    private int _inFlight;
    private long _lastFinishedTimestamp;
    private int _online;
    private int _probed;
    private object? _prober;
    private long _downSince;
    private long _totalDowntimeTicks;
    private long _lastDowntimeTicks;
    private string? _lastError;
    private long _requests;
    private long _errors;
    private long _rxBytes;
    private long _txBytes;

    internal Backend(BackendOptions options, int siteNumber, UpstreamPool pool, UpstreamPool healthPool, TimeProvider time)
    {
        Options = options;
        SiteNumber = siteNumber;
        Pool = pool;
        HealthPool = healthPool;
        Time = time;
        _downSince = time.GetTimestamp(); // D2: down from the start until the first probe says otherwise
        Authority = System.Text.Encoding.ASCII.GetBytes(options.Uri.Authority);
    }

    /// <summary>host[:port] of the endpoint: the Host sent for an HTTP/1.0 request that has none.</summary>
    internal byte[] Authority { get; }

    internal TimeProvider Time { get; }

    /// <summary>Connections for health probes: the traffic pool itself unless --health-port points elsewhere.</summary>
    internal UpstreamPool HealthPool { get; }

    /// <summary>True once the first probe returned (either way).</summary>
    public bool Probed => Volatile.Read(ref _probed) != 0;

    /// <summary>Downtime accumulated over all outages, including the current one.</summary>
    public TimeSpan TotalDowntime
    {
        get
        {
            var total = TimeSpan.FromTicks(Interlocked.Read(ref _totalDowntimeTicks));
            return IsOnline ? total : total + Time.GetElapsedTime(Interlocked.Read(ref _downSince));
        }
    }

    /// <summary>The current outage while down, else the length of the last one.</summary>
    public TimeSpan LastDowntime => IsOnline
        ? TimeSpan.FromTicks(Interlocked.Read(ref _lastDowntimeTicks))
        : Time.GetElapsedTime(Interlocked.Read(ref _downSince));

    /// <summary>Why the backend last went down.</summary>
    public string? LastError => Volatile.Read(ref _lastError);

    /// <summary>Claims the probe loop for <paramref name="owner"/> unless one runs (optimistic mode starts loops on demand).</summary>
    internal bool TryStartProbing(object owner) => Interlocked.CompareExchange(ref _prober, owner, null) is null;

    /// <summary>Takes the probe loop over (a new table after SIGHUP); the old owner's loop sees it and ends.</summary>
    internal void TakeOverProbing(object owner) => Interlocked.Exchange(ref _prober, owner);

    internal bool IsProbedBy(object owner) => ReferenceEquals(Volatile.Read(ref _prober), owner);

    internal void StopProbing(object owner) => Interlocked.CompareExchange(ref _prober, null, owner);

    /// <summary>Records a probe or passive result. Returns the transition, if the state changed (edge-triggered, D4).</summary>
    internal Transition Record(bool up, string? error)
    {
        var firstResult = Interlocked.Exchange(ref _probed, 1) == 0;
        if (up)
        {
            if (Interlocked.Exchange(ref _online, 1) == 1)
            {
                return firstResult ? Transition.FirstResult : Transition.None;
            }

            var downtime = Time.GetElapsedTime(Interlocked.Read(ref _downSince));
            Interlocked.Exchange(ref _lastDowntimeTicks, downtime.Ticks);
            Interlocked.Add(ref _totalDowntimeTicks, downtime.Ticks);
            return Transition.Up;
        }

        Volatile.Write(ref _lastError, error);
        if (Interlocked.Exchange(ref _online, 0) == 0)
        {
            // Already down (or down since start): the first failed probe is still reported once,
            // so a backend that never came up is logged too (fixes D4).
            return firstResult ? Transition.DownAtStart : Transition.None;
        }

        Interlocked.Exchange(ref _downSince, Time.GetTimestamp());
        return Transition.Down;
    }

    /// <summary>Latency histograms and health-error counts (survive SIGHUP with the backend).</summary>
    public Observability.BackendMetrics Metrics { get; } = new();

    /// <summary>Endpoint as configured (the metrics label).</summary>
    public string Endpoint => Options.Endpoint;

    /// <summary>The configuration this backend was built from.</summary>
    public BackendOptions Options { get; }

    /// <summary>1-based site number.</summary>
    public int SiteNumber { get; internal set; }

    internal UpstreamPool Pool { get; }

    /// <summary>Requests currently being forwarded to this backend.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Whether the backend takes traffic.</summary>
    public bool IsOnline => Volatile.Read(ref _online) != 0;

    /// <summary>Stopwatch timestamp of the last finished request (tie-break information).</summary>
    public long LastFinishedTimestamp => Volatile.Read(ref _lastFinishedTimestamp);

    /// <summary>Completed proxied requests.</summary>
    public long Requests => Volatile.Read(ref _requests);

    /// <summary>Completed requests with status >= 400 or a transport failure.</summary>
    public long Errors => Volatile.Read(ref _errors);

    /// <summary>Bytes received from clients for this backend (heads and bodies).</summary>
    public long RxBytes => Volatile.Read(ref _rxBytes);

    /// <summary>Bytes sent to clients from this backend (heads and bodies).</summary>
    public long TxBytes => Volatile.Read(ref _txBytes);

    /// <summary>Starts a request: in-flight +1. The lease must be ended exactly once.</summary>
    internal BackendLease Acquire()
    {
        Interlocked.Increment(ref _inFlight);
        return new BackendLease(this);
    }

    /// <summary>
    /// Ends a request. The counters move before in-flight drops, so a reader that sees in-flight 0 sees every
    /// ended request counted.
    /// </summary>
    internal void Release(int statusCode, long rx, long tx, bool failed)
    {
        Volatile.Write(ref _lastFinishedTimestamp, System.Diagnostics.Stopwatch.GetTimestamp());
        Interlocked.Increment(ref _requests);
        if (failed || statusCode >= 400)
        {
            Interlocked.Increment(ref _errors);
        }

        Interlocked.Add(ref _rxBytes, rx);
        Interlocked.Add(ref _txBytes, tx);
        Interlocked.Decrement(ref _inFlight);
    }

    /// <inheritdoc />
    public override string ToString() => Endpoint;
}

/// <summary>What a health result changed.</summary>
internal enum Transition
{
    /// <summary>Nothing changed.</summary>
    None,
    /// <summary>First result and it was up (already counted as up).</summary>
    FirstResult,
    /// <summary>Went up.</summary>
    Up,
    /// <summary>Went down.</summary>
    Down,
    /// <summary>First result, and the backend is down since start.</summary>
    DownAtStart,
}

/// <summary>
/// An in-flight request on a backend, a value so that a request allocates nothing for it. The proxy ends it
/// exactly once on every path (success, failure, or an exception).
/// </summary>
internal readonly struct BackendLease(Backend backend)
{
    public Backend Backend { get; } = backend;

    public void End(int statusCode, long rx, long tx, bool failed) => Backend.Release(statusCode, rx, tx, failed);
}
