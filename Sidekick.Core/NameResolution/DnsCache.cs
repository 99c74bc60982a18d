using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Sidekick.Core.NameResolution;

/// <summary>Resolves a host name to addresses. The seam through which tests (and embedders) control DNS answers.</summary>
public interface IDnsResolver
{
    /// <summary>The addresses of <paramref name="host"/>, in resolver order; throws <see cref="SocketException"/> when it has none.</summary>
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

/// <summary>The operating system's resolver (getaddrinfo).</summary>
public sealed class SystemDnsResolver : IDnsResolver
{
    /// <summary>The one instance.</summary>
    public static readonly SystemDnsResolver Instance = new();

    private SystemDnsResolver()
    {
    }

    /// <inheritdoc />
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        System.Net.Dns.GetHostAddressesAsync(host, cancellationToken);
}

/// <summary>
/// The process-wide DNS cache of the original (G5): a lookup is cached until the next refresh; every
/// --dns-ttl the names used since the last refresh are resolved again and unused ones evicted. A failed
/// refresh keeps the old addresses; a failed first lookup is not cached. Lookups time out after 5 s.
/// </summary>
public sealed class DnsCache : IDisposable
{
    /// <summary>Time allowed for one lookup.</summary>
    public static readonly TimeSpan LookupTimeout = TimeSpan.FromSeconds(5);

    private readonly IDnsResolver _resolver;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.OrdinalIgnoreCase);
    private readonly ITimer? _timer;

    /// <summary>Creates a cache refreshed every <paramref name="ttl"/> (no timer when it is not positive).</summary>
    public DnsCache(IDnsResolver resolver, TimeSpan ttl, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _resolver = resolver ?? throw new ArgumentNullException(nameof(resolver));
        if (ttl > TimeSpan.Zero)
        {
            _timer = time.CreateTimer(_ => _ = RefreshAsync(), null, ttl, ttl);
        }
    }

    /// <summary>Names cached now.</summary>
    public int Count => _entries.Count;

    /// <summary>The addresses of <paramref name="host"/>: cached, or looked up (and cached on success).</summary>
    public async ValueTask<IPAddress[]> LookupAsync(string host, CancellationToken cancellationToken)
    {
        if (_entries.TryGetValue(host, out var entry))
        {
            entry.Used = true;
            return entry.Addresses;
        }

        var addresses = await ResolveAsync(host, cancellationToken).ConfigureAwait(false);
        _entries[host] = new Entry(addresses) { Used = true };
        return addresses;
    }

    /// <summary>One refresh round (the timer runs this every TTL): re-resolve used names, evict unused ones.</summary>
    public async Task RefreshAsync()
    {
        foreach (var (host, entry) in _entries.ToArray())
        {
            if (!entry.Used)
            {
                _entries.TryRemove(new KeyValuePair<string, Entry>(host, entry));
                continue;
            }

            try
            {
                var addresses = await ResolveAsync(host, CancellationToken.None).ConfigureAwait(false);
                _entries[host] = new Entry(addresses);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or TimeoutException)
            {
                // Keep the old addresses (a new period starts: evicted next time unless used meanwhile).
                entry.Used = false;
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _timer?.Dispose();

    private async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(LookupTimeout);
        IPAddress[] addresses;
        try
        {
            addresses = await _resolver.ResolveAsync(host, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SocketException((int)SocketError.TimedOut);
        }

        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        return addresses;
    }

    private sealed class Entry(IPAddress[] addresses)
    {
        public IPAddress[] Addresses { get; } = addresses;

        public volatile bool Used;
    }
}
