using System.Collections.Immutable;

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
}
