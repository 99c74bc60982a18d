using System.Diagnostics;

namespace Sidekick.Core.Observability;

/// <summary>
/// A fixed-bucket latency histogram that records lock-free and allocation-free: one <see cref="Interlocked"/>
/// increment on a bucket, one add to the sum. Buckets are stored non-cumulative and summed on export, so a
/// reader sees a count that may run one request behind the sum, never a torn bucket.
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>Upper bounds in seconds (Prometheus <c>le</c>), 100 µs to 30 s; the last bucket is +Inf.</summary>
    public static readonly double[] BoundsSeconds =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private static readonly long[] BoundsTicks = [.. BoundsSeconds.Select(s => (long)Math.Ceiling(s * Stopwatch.Frequency))];

    private readonly long[] _buckets = new long[BoundsSeconds.Length + 1];
    private long _sumTicks;
    private long _minTicks = long.MaxValue;
    private long _maxTicks;

    /// <summary>Records one observation given in <see cref="Stopwatch"/> ticks.</summary>
    public void Record(long elapsedTicks)
    {
        if (elapsedTicks < 0)
        {
            elapsedTicks = 0;
        }

        var bounds = BoundsTicks;
        var i = 0;
        while (i < bounds.Length && elapsedTicks > bounds[i])
        {
            i++;
        }

        Interlocked.Increment(ref _buckets[i]);
        Interlocked.Add(ref _sumTicks, elapsedTicks);
        UpdateMin(elapsedTicks);
        UpdateMax(elapsedTicks);
    }

    /// <summary>Observations so far.</summary>
    public long Count
    {
        get
        {
            long n = 0;
            for (var i = 0; i < _buckets.Length; i++)
            {
                n += Volatile.Read(ref _buckets[i]);
            }

            return n;
        }
    }

    /// <summary>Sum of all observations in seconds.</summary>
    public double SumSeconds => Interlocked.Read(ref _sumTicks) / (double)Stopwatch.Frequency;

    /// <summary>Smallest observation, zero before the first.</summary>
    public TimeSpan Min
    {
        get
        {
            var t = Interlocked.Read(ref _minTicks);
            return t == long.MaxValue ? TimeSpan.Zero : Stopwatch.GetElapsedTime(0, t);
        }
    }

    /// <summary>Largest observation, zero before the first.</summary>
    public TimeSpan Max => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _maxTicks));

    /// <summary>Copies the per-bucket (non-cumulative) counts; the last one is the +Inf bucket.</summary>
    public long[] SnapshotBuckets()
    {
        var copy = new long[_buckets.Length];
        for (var i = 0; i < copy.Length; i++)
        {
            copy[i] = Volatile.Read(ref _buckets[i]);
        }

        return copy;
    }

    /// <summary>
    /// Estimates a quantile (0..1) by linear interpolation inside the bucket that holds it, as Prometheus'
    /// histogram_quantile does; observations beyond the last bound report the last bound. Zero when empty.
    /// </summary>
    public TimeSpan Quantile(double q)
    {
        var buckets = SnapshotBuckets();
        long total = 0;
        foreach (var b in buckets)
        {
            total += b;
        }

        if (total == 0)
        {
            return TimeSpan.Zero;
        }

        var rank = q * total;
        long cumulative = 0;
        for (var i = 0; i < buckets.Length; i++)
        {
            var previous = cumulative;
            cumulative += buckets[i];
            if (cumulative >= rank && buckets[i] > 0)
            {
                if (i == BoundsSeconds.Length)
                {
                    return TimeSpan.FromSeconds(BoundsSeconds[^1]);
                }

                var lower = i == 0 ? 0 : BoundsSeconds[i - 1];
                var upper = BoundsSeconds[i];
                var fraction = (rank - previous) / buckets[i];
                return TimeSpan.FromSeconds(lower + ((upper - lower) * fraction));
            }
        }

        return TimeSpan.FromSeconds(BoundsSeconds[^1]);
    }

    private void UpdateMin(long value)
    {
        var current = Volatile.Read(ref _minTicks);
        while (value < current)
        {
            var seen = Interlocked.CompareExchange(ref _minTicks, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private void UpdateMax(long value)
    {
        var current = Volatile.Read(ref _maxTicks);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref _maxTicks, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
