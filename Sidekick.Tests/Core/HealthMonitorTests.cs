using System.Collections.Immutable;
using Microsoft.Extensions.Time.Testing;
using Sidekick.Core.Backends;
using Sidekick.Core.Config;
using Sidekick.Core.Health;

namespace Sidekick.Tests.Core;

/// <summary>Health policy with fake time and scripted randomness and probes (D1-D4, D6).</summary>
public class HealthMonitorTests
{
    private static readonly TimeSpan D = TimeSpan.FromSeconds(5);

    private sealed class ScriptedRandom(double value) : Random
    {
        public override double NextDouble() => value;

        public override int Next(int maxValue) => 0;
    }

    /// <summary>A probe whose answers the test sets; it counts calls and can hold a probe open.</summary>
    private sealed class ScriptedProbe : IHealthProbe
    {
        public volatile bool Up = true;
        public int Calls;
        public int InFlight;
        public int MaxInFlight;
        public TaskCompletionSource? Gate;

        public async ValueTask<ProbeResult> ProbeAsync(Backend backend, TimeSpan timeout, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            var n = Interlocked.Increment(ref InFlight);
            MaxInFlight = Math.Max(MaxInFlight, n);
            try
            {
                if (Gate is { } g)
                {
                    await g.Task.WaitAsync(cancellationToken);
                }

                return Up ? new ProbeResult(true, 200, null) : new ProbeResult(false, 503, "response status 503");
            }
            finally
            {
                Interlocked.Decrement(ref InFlight);
            }
        }
    }

    private static (HealthMonitor Monitor, Backend Backend, List<BackendTransition> Log) Create(
        FakeTimeProvider time, IHealthProbe probe, bool optimistic = false, double jitter = 0.5)
    {
        var site = new SiteOptions(1, "http://b:1", [new BackendOptions("http://b:1", new Uri("http://b:1"), new Uri("http://b:1/health"))]);
        var table = BackendTable.Build([site], null, new ProxyLimits(), time);
        var log = new List<BackendTransition>();
        var options = new SidekickOptions { HealthDuration = D, HealthOptimistic = optimistic };
        var monitor = new HealthMonitor(table, options, probe, time, new ScriptedRandom(jitter), t => { lock (log) { log.Add(t); } });
        return (monitor, table.Sites[0].Backends[0], log);
    }

    /// <summary>Waits (bounded: 5 s) until <paramref name="condition"/> holds, then returns whether it does.</summary>
    private static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        // The probe loop arms its next timer right after the state the condition sees: let it.
        await Task.Delay(30);
        return condition();
    }

    private static async Task SettleAsync()
    {
        // Let continuations scheduled by the fake timer run (bounded).
        for (var i = 0; i < 20; i++)
        {
            await Task.Delay(5);
        }
    }

    [Test]
    public async Task FirstProbe_IsImmediate_ThenExactlyD_ThenDPlusJitter()
    {
        var time = new FakeTimeProvider();
        var probe = new ScriptedProbe();
        var (monitor, _, _) = Create(time, probe, jitter: 0.5);
        using var _m = monitor;

        monitor.Start();
        await SettleAsync();
        (await EventuallyAsync(() => probe.Calls >= 1)).ShouldBeTrue();
        probe.Calls.ShouldBe(1);

        time.Advance(D - TimeSpan.FromMilliseconds(1));
        await SettleAsync();
        (await EventuallyAsync(() => probe.Calls >= 1)).ShouldBeTrue();
        probe.Calls.ShouldBe(1);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await SettleAsync();
        (await EventuallyAsync(() => probe.Calls >= 2)).ShouldBeTrue();
        probe.Calls.ShouldBe(2);

        // Third wait: d + 0.5 d.
        time.Advance(D * 1.5 - TimeSpan.FromMilliseconds(1));
        await SettleAsync();
        (await EventuallyAsync(() => probe.Calls >= 2)).ShouldBeTrue();
        probe.Calls.ShouldBe(2);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await SettleAsync();
        (await EventuallyAsync(() => probe.Calls >= 3)).ShouldBeTrue();
        probe.Calls.ShouldBe(3);
    }

    [TestCase(0.0)]
    [TestCase(0.999999)]
    public void NextDelay_StaysWithinDAndTwoD(double r)
    {
        var (monitor, _, _) = Create(new FakeTimeProvider(), new ScriptedProbe(), jitter: r);
        using var _m = monitor;

        monitor.NextDelay(1).ShouldBe(D);
        var later = monitor.NextDelay(5);
        later.ShouldBeGreaterThanOrEqualTo(D);
        later.ShouldBeLessThan(D * 2);
    }

    [Test]
    public async Task SlowProbe_NeverOverlapsWithTheNextOne()
    {
        var time = new FakeTimeProvider();
        var probe = new ScriptedProbe { Gate = new TaskCompletionSource() };
        var (monitor, _, _) = Create(time, probe);
        using var _m = monitor;

        monitor.Start();
        for (var i = 0; i < 5; i++)
        {
            time.Advance(D * 2);
            await SettleAsync();
        }

        probe.Calls.ShouldBe(1);
        probe.Gate.SetResult();
        await SettleAsync();
        probe.MaxInFlight.ShouldBe(1);
    }

    [Test]
    public async Task Transitions_AreEdgeTriggered_AndABackendDownFromStartIsReported()
    {
        var time = new FakeTimeProvider();
        var probe = new ScriptedProbe { Up = false };
        var (monitor, backend, log) = Create(time, probe);
        using var _m = monitor;

        monitor.Start();
        await SettleAsync();
        time.Advance(D);
        await SettleAsync();
        probe.Up = true;
        time.Advance(D * 1.5);
        await SettleAsync();

        (await EventuallyAsync(() => { lock (log) { return log.Count >= 2; } })).ShouldBeTrue();
        log.Count.ShouldBe(2);
        log[0].Up.ShouldBeFalse();
        log[0].Error.ShouldBe("response status 503");
        log[1].Up.ShouldBeTrue();
        log[1].Downtime.ShouldBe(D * 2.5);
        backend.IsOnline.ShouldBeTrue();
        monitor.FirstRound.IsCompleted.ShouldBeTrue();
    }

    [Test]
    public async Task Optimistic_StopsProbingWhenUp_AndProbesAgainAfterAPassiveFailure()
    {
        var time = new FakeTimeProvider();
        var probe = new ScriptedProbe();
        var (monitor, backend, _) = Create(time, probe, optimistic: true);
        using var _m = monitor;

        monitor.Start();
        await SettleAsync();
        time.Advance(D * 10);
        await SettleAsync();
        (await EventuallyAsync(() => probe.Calls >= 1)).ShouldBeTrue();
        probe.Calls.ShouldBe(1);

        probe.Up = false;
        monitor.ReportFailure(backend, "dial tcp: connect: connection refused");
        backend.IsOnline.ShouldBeFalse();
        time.Advance(D);
        await SettleAsync();
        (await EventuallyAsync(() => probe.Calls >= 2)).ShouldBeTrue();
        probe.Calls.ShouldBe(2);

        probe.Up = true;
        time.Advance(D * 2);
        await SettleAsync();
        (await EventuallyAsync(() => probe.Calls >= 3)).ShouldBeTrue();
        probe.Calls.ShouldBe(3);
        (await EventuallyAsync(() => backend.IsOnline)).ShouldBeTrue();
        time.Advance(D * 10);
        await SettleAsync();
        (await EventuallyAsync(() => probe.Calls >= 3)).ShouldBeTrue();
        probe.Calls.ShouldBe(3);
    }

    [Test]
    public async Task PassiveFailure_MarksDownAtOnce_AndOnlyAProbeBringsItBack()
    {
        var time = new FakeTimeProvider();
        var probe = new ScriptedProbe();
        var (monitor, backend, _) = Create(time, probe);
        using var _m = monitor;
        monitor.Start();
        (await EventuallyAsync(() => backend.IsOnline)).ShouldBeTrue();

        monitor.ReportFailure(backend, "connection refused");

        backend.IsOnline.ShouldBeFalse();
        time.Advance(D);
        (await EventuallyAsync(() => backend.IsOnline)).ShouldBeTrue();
    }

    /// <summary>A probe per backend host, each answered when the test says so.</summary>
    private sealed class GatedProbe : IHealthProbe
    {
        public readonly Dictionary<string, TaskCompletionSource<bool>> Gates = new();

        public async ValueTask<ProbeResult> ProbeAsync(Backend backend, TimeSpan timeout, CancellationToken cancellationToken)
        {
            TaskCompletionSource<bool> gate;
            lock (Gates)
            {
                gate = Gates[backend.Options.Uri.Host];
            }

            var up = await gate.Task.WaitAsync(cancellationToken);
            return up ? new ProbeResult(true, 200, null) : new ProbeResult(false, 503, "response status 503");
        }
    }

    /// <summary>Site 1 with backends a and b, site 2 with c, each probe held until the test answers it; started.</summary>
    private static (HealthMonitor Monitor, BackendTable Table, GatedProbe Probe) TwoSites()
    {
        var time = new FakeTimeProvider();
        BackendOptions B(string host) => new($"http://{host}:1", new Uri($"http://{host}:1"), new Uri($"http://{host}:1/health"));
        var table = BackendTable.Build([new SiteOptions(1, "s1", [B("a"), B("b")]), new SiteOptions(2, "s2", [B("c")])], null, new ProxyLimits(), time);
        var probe = new GatedProbe();
        foreach (var h in new[] { "a", "b", "c" })
        {
            probe.Gates[h] = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        var monitor = new HealthMonitor(table, new SidekickOptions { HealthDuration = D }, probe, time, new ScriptedRandom(0.5), null);
        monitor.Start();
        return (monitor, table, probe);
    }

    [Test]
    public async Task FirstRound_WaitsForTheEarlierSites_WhenALaterSiteAnswersFirst()
    {
        var (monitor, table, probe) = TwoSites();
        using var _m = monitor;

        probe.Gates["c"].SetResult(true); // the second site is up first
        (await EventuallyAsync(() => table.Sites[1].Backends[0].Probed)).ShouldBeTrue();
        monitor.FirstRound.IsCompleted.ShouldBeFalse("site 1 has not answered yet");

        probe.Gates["a"].SetResult(false);
        (await EventuallyAsync(() => table.Sites[0].Backends[0].Probed)).ShouldBeTrue();
        monitor.FirstRound.IsCompleted.ShouldBeFalse("b of site 1 has not answered yet");

        probe.Gates["b"].SetResult(true);
        await monitor.FirstRound.WaitAsync(TimeSpan.FromSeconds(5));
        table.ActiveSite!.Number.ShouldBe(1);
    }

    [Test]
    public async Task FirstRound_CompletesAtOnce_WhenTheFirstSiteIsUp()
    {
        var (monitor, table, probe) = TwoSites();
        using var _m = monitor;

        probe.Gates["b"].SetResult(true); // one backend of the first site is enough; a and c may hang
        await monitor.FirstRound.WaitAsync(TimeSpan.FromSeconds(5));
        table.ActiveSite!.Number.ShouldBe(1);
    }
}
