using Sidekick.Core.Backends;
using Sidekick.Core.Config;
using Sidekick.Core.Observability;

namespace Sidekick.Core.Health;

/// <summary>A backend changed state; feeds the --log lines and the table.</summary>
/// <param name="Backend">Which backend.</param>
/// <param name="Up">New state.</param>
/// <param name="Error">Why it went down.</param>
/// <param name="Downtime">For an up transition, how long it was down.</param>
public readonly record struct BackendTransition(Backend Backend, bool Up, string? Error, TimeSpan Downtime);

/// <summary>
/// Runs the active health checks of one backend table (D1-D4, D6): the first probe at once, the next after
/// exactly d, every later one after d + uniform[0, d) (100% jitter, #122); one loop per backend so probes of a
/// backend never overlap (#116). In optimistic mode a loop ends when the backend is up and starts again when
/// it goes down. Time and randomness are injected so the policy tests deterministically.
/// </summary>
internal sealed class HealthMonitor : IDisposable
{
    private readonly BackendTable _table;
    private readonly IHealthProbe _probe;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly TimeSpan _interval;
    private readonly TimeSpan _timeout;
    private readonly bool _optimistic;
    private readonly Action<BackendTransition>? _onTransition;
    private readonly RequestTracer? _tracer;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _firstRound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _probedCount;

    public HealthMonitor(BackendTable table, SidekickOptions options, IHealthProbe probe, TimeProvider time, Random random, Action<BackendTransition>? onTransition, RequestTracer? tracer = null)
    {
        _tracer = tracer is { Enabled: true } ? tracer : null;
        _table = table;
        _probe = probe;
        _time = time;
        _random = random;
        _interval = options.HealthDuration;
        _timeout = options.HealthTimeout;
        _optimistic = options.HealthOptimistic;
        _onTransition = onTransition;
        if (table.Sites.All(s => s.Backends.IsEmpty))
        {
            _firstRound.TrySetResult();
        }
    }

    /// <summary>
    /// Completes when the active site is known: a site has an online backend and every backend of the sites before it
    /// has had its first probe result, or every backend has had one.
    /// </summary>
    public Task FirstRound => _firstRound.Task;

    public void Start()
    {
        foreach (var site in _table.Sites)
        {
            foreach (var backend in site.Backends)
            {
                if (backend.Probed)
                {
                    // Carried over from a previous table (SIGHUP): it has a state already.
                    CountProbed();
                    if (_optimistic && backend.IsOnline)
                    {
                        continue;
                    }
                }

                backend.TakeOverProbing(this);
                _ = LoopAsync(backend, backend.Probed ? _interval : TimeSpan.Zero);
            }
        }
    }

    /// <summary>Passive health (D5): a transport failure marks the backend down at once.</summary>
    public void ReportFailure(Backend backend, string error)
    {
        var t = backend.Record(up: false, error);
        Publish(backend, t, error);
        if (_optimistic && t == Transition.Down && !_stop.IsCancellationRequested && backend.TryStartProbing(this))
        {
            _ = LoopAsync(backend, _interval);
        }
    }

    /// <summary>The wait before probe number <paramref name="probesDone"/> + 1.</summary>
    internal TimeSpan NextDelay(int probesDone) =>
        probesDone <= 1 ? _interval : _interval + TimeSpan.FromTicks((long)(_random.NextDouble() * _interval.Ticks));

    private async Task LoopAsync(Backend backend, TimeSpan firstDelay)
    {
        var token = _stop.Token;
        var delay = firstDelay;
        var probes = 0;
        try
        {
            while (!token.IsCancellationRequested && backend.IsProbedBy(this))
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, _time, token).ConfigureAwait(false);
                }

                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                var result = await _probe.ProbeAsync(backend, _timeout, token).ConfigureAwait(false);
                if (token.IsCancellationRequested)
                {
                    break;
                }

                if (!result.Up)
                {
                    backend.Metrics.CountProbeFailure();
                }

                TraceProbe(backend, result, started);

                probes++;
                var firstResult = !backend.Probed;
                var t = backend.Record(result.Up, result.Error);
                if (firstResult)
                {
                    CountProbed();
                }

                Publish(backend, t, result.Error);
                if (_optimistic && result.Up)
                {
                    backend.StopProbing(this);
                    // A passive failure may have landed between the probe and StopProbing: pick it up.
                    if (!backend.IsOnline && backend.TryStartProbing(this))
                    {
                        delay = _interval;
                        continue;
                    }

                    return;
                }

                delay = NextDelay(probes);
            }
        }
        catch (OperationCanceledException)
        {
        }

        backend.StopProbing(this);
    }

    /// <summary>
    /// A probe that got an HTTP response is traced unless --trace application (D7); it is matched by origin,
    /// not by path (fixes D8). It is never counted in the backend's request counters.
    /// </summary>
    private void TraceProbe(Backend backend, ProbeResult result, long started)
    {
        if (_tracer is null || result.StatusCode == 0 || !_tracer.Wants(TraceOrigin.HealthProbe, result.StatusCode))
        {
            return;
        }

        var latency = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        var url = backend.Options.HealthUrl;
        _tracer.Write(new TraceRecord
        {
            Origin = TraceOrigin.HealthProbe,
            Endpoint = backend.Endpoint,
            Time = DateTime.UtcNow - latency,
            Client = "sidekick",
            Latency = latency,
            StatusCode = result.StatusCode,
            StatusMessage = StatusText.For(result.StatusCode),
            HealthError = result.Up ? null : result.Error,
            Method = "GET",
            Path = url.AbsolutePath,
            Query = url.Query.TrimStart('?'),
            Host = url.Authority,
        });
    }

    private void CountProbed()
    {
        var total = 0;
        foreach (var s in _table.Sites)
        {
            total += s.Backends.Length;
        }

        if (Interlocked.Increment(ref _probedCount) >= total)
        {
            _firstRound.TrySetResult();
        }
        else
        {
            TrySettle();
        }
    }

    /// <summary>
    /// Completes <see cref="FirstRound"/> once the active site is known: some site has an online backend and every
    /// backend of the sites before it has had its first probe result. Without the second half, a later site whose probe
    /// happened to return first would take the traffic meant for the first site until that site's probe returned.
    /// </summary>
    private void TrySettle()
    {
        if (_firstRound.Task.IsCompleted)
        {
            return;
        }

        foreach (var site in _table.Sites)
        {
            var unprobed = false;
            foreach (var backend in site.Backends)
            {
                if (backend.IsOnline)
                {
                    _firstRound.TrySetResult();
                    return;
                }

                unprobed |= !backend.Probed;
            }

            if (unprobed)
            {
                return; // this site may still come up: the sites after it must wait
            }
        }

        _firstRound.TrySetResult();
    }

    private void Publish(Backend backend, Transition t, string? error)
    {
        if (t is Transition.Up or Transition.FirstResult)
        {
            TrySettle();
        }

        if (t is Transition.None or Transition.FirstResult)
        {
            return;
        }

        _onTransition?.Invoke(new BackendTransition(backend, t == Transition.Up, error,
            t == Transition.Up ? backend.LastDowntime : TimeSpan.Zero));
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}
