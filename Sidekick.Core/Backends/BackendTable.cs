using System.Collections.Immutable;
using Sidekick.Core.Config;
using Sidekick.Core.Upstream;

namespace Sidekick.Core.Backends;

/// <summary>One site: backends in command-line expansion order.</summary>
public sealed class Site
{
    internal Site(int number, ImmutableArray<Backend> backends)
    {
        Number = number;
        Backends = backends;
    }

    /// <summary>1-based failover priority.</summary>
    public int Number { get; }

    /// <summary>Every backend of the site.</summary>
    public ImmutableArray<Backend> Backends { get; }

    /// <summary>True when any backend is online.</summary>
    public bool IsOnline
    {
        get
        {
            foreach (var b in Backends)
            {
                if (b.IsOnline)
                {
                    return true;
                }
            }

            return false;
        }
    }
}

/// <summary>
/// An immutable snapshot of all sites. The server holds the current one in a volatile field and swaps it
/// atomically (SIGHUP); readers never lock.
/// </summary>
public sealed class BackendTable
{
    internal BackendTable(ImmutableArray<Site> sites) => Sites = sites;

    /// <summary>Sites in failover order.</summary>
    public ImmutableArray<Site> Sites { get; }

    /// <summary>The first site with an online backend (C1), or null.</summary>
    public Site? ActiveSite
    {
        get
        {
            foreach (var s in Sites)
            {
                if (s.IsOnline)
                {
                    return s;
                }
            }

            return null;
        }
    }

    /// <summary>Builds a table from options, carrying over backends of <paramref name="previous"/> that are still configured.</summary>
    internal static BackendTable Build(ImmutableArray<SiteOptions> sites, BackendTable? previous, ProxyLimits limits, TimeProvider time, UpstreamContext? context = null)
    {
        // Backends of the previous table by (endpoint, health URL); a queue because a site may list an
        // endpoint twice (B2 keeps duplicates).
        var reusable = new Dictionary<(string, Uri), Queue<Backend>>();
        if (previous is not null)
        {
            foreach (var b in previous.Sites.SelectMany(s => s.Backends))
            {
                var key = (b.Endpoint, b.Options.HealthUrl);
                if (!reusable.TryGetValue(key, out var q))
                {
                    reusable[key] = q = new Queue<Backend>();
                }

                q.Enqueue(b);
            }
        }

        var built = ImmutableArray.CreateBuilder<Site>(sites.Length);
        foreach (var site in sites)
        {
            var backends = ImmutableArray.CreateBuilder<Backend>(site.Backends.Length);
            foreach (var b in site.Backends)
            {
                if (reusable.TryGetValue((b.Endpoint, b.HealthUrl), out var q) && q.TryDequeue(out var existing))
                {
                    existing.SiteNumber = site.Number;
                    backends.Add(existing);
                    continue;
                }

                var pool = new UpstreamPool(b.Uri, limits.ConnectTimeout, limits.UpstreamIdleTimeout, time, context, b.TlsServerName);
                var healthPool = b.HealthUrl.Host == b.Uri.Host && b.HealthUrl.Port == b.Uri.Port && b.HealthUrl.Scheme == b.Uri.Scheme
                    ? pool
                    : new UpstreamPool(b.HealthUrl, limits.ConnectTimeout, limits.UpstreamIdleTimeout, time, context, b.TlsServerName);
                backends.Add(new Backend(b, site.Number, pool, healthPool, time));
            }

            built.Add(new Site(site.Number, backends.MoveToImmutable()));
        }

        return new BackendTable(built.MoveToImmutable());
    }
}
