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
    private int _online = 1;
    private long _requests;
    private long _errors;
    private long _rxBytes;
    private long _txBytes;

    internal Backend(BackendOptions options, int siteNumber, UpstreamPool pool)
    {
        Options = options;
        SiteNumber = siteNumber;
        Pool = pool;
    }

    /// <summary>Endpoint as configured (the metrics label).</summary>
    public string Endpoint => Options.Endpoint;

    /// <summary>The configuration this backend was built from.</summary>
    public BackendOptions Options { get; }

    /// <summary>1-based site number.</summary>
    public int SiteNumber { get; }

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

    /// <summary>Marks the backend offline or online; returns true when this call changed the state (edge-triggered, D4).</summary>
    internal bool SetOnline(bool online) => Interlocked.Exchange(ref _online, online ? 1 : 0) != (online ? 1 : 0);

    /// <summary>Starts a request: in-flight +1. The lease must be ended exactly once.</summary>
    internal BackendLease Acquire()
    {
        Interlocked.Increment(ref _inFlight);
        return new BackendLease(this);
    }

    internal void Release(int statusCode, long rx, long tx, bool failed)
    {
        Interlocked.Decrement(ref _inFlight);
        Volatile.Write(ref _lastFinishedTimestamp, System.Diagnostics.Stopwatch.GetTimestamp());
        Interlocked.Increment(ref _requests);
        if (failed || statusCode >= 400)
        {
            Interlocked.Increment(ref _errors);
        }

        Interlocked.Add(ref _rxBytes, rx);
        Interlocked.Add(ref _txBytes, tx);
    }

    /// <inheritdoc />
    public override string ToString() => Endpoint;
}

/// <summary>An in-flight request on a backend. Ends once, recording its outcome.</summary>
internal sealed class BackendLease
{
    private int _ended;

    public BackendLease(Backend backend) => Backend = backend;

    public Backend Backend { get; }

    public void End(int statusCode, long rx, long tx, bool failed)
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            Backend.Release(statusCode, rx, tx, failed);
        }
    }
}
