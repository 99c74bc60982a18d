using System.Collections.Immutable;
using System.Numerics;

namespace Sidekick.Core.Config;

/// <summary>
/// Builds the sites from the SITE arguments (B1–B7). Called by the command line at start and again by the
/// engine on SIGHUP with the same arguments (J1), so it lives here and depends on nothing but its inputs.
/// </summary>
public static class Sites
{
    /// <summary>
    /// Expands and validates every SITE argument. The last site uses <paramref name="readHealthPath"/> (A4),
    /// including when it is the only one. Throws <see cref="ConfigException"/> with the one-line message.
    /// </summary>
    public static ImmutableArray<SiteOptions> Build(IReadOnlyList<string> siteArgs, string? healthPath, string? readHealthPath, int healthPort)
    {
        ArgumentNullException.ThrowIfNull(siteArgs);
        if (siteArgs.Count == 0)
        {
            throw new ConfigException("no SITE given, please use 'sidekick --help'");
        }

        HealthUrl.CheckPort(healthPort);
        var normalPath = HealthUrl.NormalisePath(healthPath);
        var readPath = HealthUrl.NormalisePath(readHealthPath ?? healthPath);
        var sites = ImmutableArray.CreateBuilder<SiteOptions>(siteArgs.Count);
        for (var i = 0; i < siteArgs.Count; i++)
        {
            var path = i == siteArgs.Count - 1 ? readPath : normalPath;
            sites.Add(BuildSite(i + 1, siteArgs[i], path, healthPort));
        }

        return sites.MoveToImmutable();
    }

    /// <summary>One SITE: comma-separated pools, each expanded, concatenated in order, duplicates kept (B2).</summary>
    public static SiteOptions BuildSite(int number, string siteArg, string healthPath, int healthPort)
    {
        ArgumentNullException.ThrowIfNull(siteArg);
        var endpoints = ExpandSite(siteArg);
        var backends = ImmutableArray.CreateBuilder<BackendOptions>(endpoints.Count);
        foreach (var endpoint in endpoints)
        {
            backends.Add(Endpoints.Parse(endpoint, healthPath, healthPort));
        }

        var scheme = backends[0].Uri.Scheme;
        if (backends.Any(b => b.Uri.Scheme != scheme))
        {
            throw new ConfigException($"all endpoints of site {siteArg} must use the same scheme");
        }

        return new SiteOptions(number, siteArg, backends.MoveToImmutable());
    }

    /// <summary>The endpoint texts of one SITE, before validation.</summary>
    public static IReadOnlyList<string> ExpandSite(string siteArg)
    {
        ArgumentNullException.ThrowIfNull(siteArg);
        var pools = siteArg.Split(',');

        // B3: expansion only when every pool has ellipses; otherwise all are literal (and a braced one fails later).
        if (!Ellipses.HasEllipses(pools))
        {
            return pools;
        }

        var patterns = new EllipsesPattern[pools.Length];
        var total = BigInteger.Zero;
        for (var i = 0; i < pools.Length; i++)
        {
            try
            {
                patterns[i] = Ellipses.Parse(pools[i]);
            }
            catch (FormatException e)
            {
                throw new ConfigException($"unable to parse input arg {pools[i]}: {e.Message}", e);
            }

            if (patterns[i].Count > Ellipses.MaxEndpoints)
            {
                throw new ConfigException($"unable to parse input arg {pools[i]}: {Ellipses.TooMany(patterns[i].Count)}");
            }

            total += patterns[i].Count;
        }

        // Checked before anything is materialised: a typo like {1...1000000} must not allocate a million URLs.
        if (total > Ellipses.MaxEndpoints)
        {
            throw new ConfigException($"unable to parse input arg {siteArg}: {Ellipses.TooMany(total)}");
        }

        var endpoints = new List<string>((int)total);
        foreach (var pattern in patterns)
        {
            endpoints.AddRange(pattern.Expand());
        }

        return endpoints;
    }
}
