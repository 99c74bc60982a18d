using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Sidekick.Core.Config;

namespace Sidekick.Core.NameResolution;

/// <summary>
/// --rr-dns-mode (G6): a site of exactly one endpoint becomes one backend per address its host name resolves
/// to, the address substituted for the name in the endpoint, health URL and metrics label (IPv6 bracketed,
/// which the original forgets). The TLS name stays the original host name. The server re-resolves every
/// --dns-ttl and reloads: new addresses are added, vanished ones drain.
/// </summary>
internal static class RoundRobinDns
{
    /// <summary>The line the original prints for each expanded site.</summary>
    public static string Announcement(SiteOptions site) => $"RR DNS mode enabled, using {site.Backends[0].Endpoint} as hostname";

    /// <summary>True when rr-dns mode applies to <paramref name="site"/>.</summary>
    public static bool Applies(SiteOptions site) => site.Backends.Length == 1;

    /// <summary>Expands every single-endpoint site; throws <see cref="ConfigException"/> <c>unable to lookup host h</c> when a name does not resolve.</summary>
    public static async Task<ImmutableArray<SiteOptions>> ExpandAsync(ImmutableArray<SiteOptions> sites, IDnsResolver resolver, CancellationToken cancellationToken)
    {
        var result = ImmutableArray.CreateBuilder<SiteOptions>(sites.Length);
        foreach (var site in sites)
        {
            result.Add(Applies(site) ? await ExpandAsync(site, resolver, cancellationToken).ConfigureAwait(false) : site);
        }

        return result.MoveToImmutable();
    }

    private static async Task<SiteOptions> ExpandAsync(SiteOptions site, IDnsResolver resolver, CancellationToken cancellationToken)
    {
        var backend = site.Backends[0];
        var host = backend.Uri.IdnHost;
        if (IPAddress.TryParse(host, out _))
        {
            return site;
        }

        IPAddress[] addresses;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(DnsCache.LookupTimeout);
            addresses = await resolver.ResolveAsync(host, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or TimeoutException or ArgumentException)
        {
            throw new ConfigException($"unable to lookup host {host}", e);
        }

        var distinct = addresses.Distinct().ToArray();
        if (distinct.Length == 0)
        {
            throw new ConfigException($"unable to lookup host {host}");
        }

        var backends = ImmutableArray.CreateBuilder<BackendOptions>(distinct.Length);
        foreach (var address in distinct)
        {
            backends.Add(Substitute(backend, host, address));
        }

        return site with { Backends = backends.MoveToImmutable() };
    }

    /// <summary>The backend with <paramref name="address"/> in place of the host name.</summary>
    internal static BackendOptions Substitute(BackendOptions backend, string host, IPAddress address)
    {
        var literal = address.AddressFamily == AddressFamily.InterNetworkV6 ? "[" + address + "]" : address.ToString();
        var endpoint = ReplaceFirst(backend.Endpoint, host, literal);
        var health = string.Equals(backend.HealthUrl.IdnHost, host, StringComparison.OrdinalIgnoreCase) ? WithHost(backend.HealthUrl, literal) : backend.HealthUrl;
        return new BackendOptions(endpoint, WithHost(backend.Uri, literal), health)
        {
            TlsServerName = backend.TlsServerName ?? host,
        };
    }

    private static Uri WithHost(Uri uri, string literal) =>
        new(string.Create(CultureInfo.InvariantCulture, $"{uri.Scheme}://{literal}:{uri.Port}{uri.PathAndQuery}"), UriKind.Absolute);

    private static string ReplaceFirst(string text, string host, string literal)
    {
        var at = text.IndexOf(host, StringComparison.OrdinalIgnoreCase);
        return at < 0 ? text : string.Concat(text.AsSpan(0, at), literal, text.AsSpan(at + host.Length));
    }
}
