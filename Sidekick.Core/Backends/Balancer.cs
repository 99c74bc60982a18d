using Sidekick.Core.Config;

namespace Sidekick.Core.Backends;

/// <summary>Picks a backend among the online backends of a site (C2, C3).</summary>
internal abstract class Balancer
{
    /// <summary>Returns an online backend of <paramref name="site"/> not in <paramref name="exclude"/> (backends already tried), or null.</summary>
    public abstract Backend? Pick(Site site, List<Backend>? exclude);

    public static Balancer Create(HostBalance policy, Random random) => policy switch
    {
        HostBalance.Random => new RandomBalancer(random),
        _ => new LeastInFlightBalancer(random),
    };
}

/// <summary>
/// Fewest in-flight requests, ties broken uniformly at random (reservoir sampling: one pass, no allocation).
/// This is the original's intent (C2) without its defect of skipping an idle backend.
/// </summary>
internal sealed class LeastInFlightBalancer(Random random) : Balancer
{
    public override Backend? Pick(Site site, List<Backend>? exclude)
    {
        Backend? best = null;
        var bestInFlight = int.MaxValue;
        var ties = 0;
        foreach (var b in site.Backends)
        {
            if (!b.IsOnline || (exclude is { Count: > 0 } && exclude.Contains(b)))
            {
                continue;
            }

            var n = b.InFlight;
            if (n < bestInFlight)
            {
                best = b;
                bestInFlight = n;
                ties = 1;
            }
            else if (n == bestInFlight)
            {
                ties++;
                if (random.Next(ties) == 0)
                {
                    best = b;
                }
            }
        }

        return best;
    }
}

/// <summary>Uniform random among online backends (C3). In-flight is still counted, for the metrics.</summary>
internal sealed class RandomBalancer(Random random) : Balancer
{
    public override Backend? Pick(Site site, List<Backend>? exclude)
    {
        Backend? chosen = null;
        var seen = 0;
        foreach (var b in site.Backends)
        {
            if (!b.IsOnline || (exclude is { Count: > 0 } && exclude.Contains(b)))
            {
                continue;
            }

            seen++;
            if (random.Next(seen) == 0)
            {
                chosen = b;
            }
        }

        return chosen;
    }
}
