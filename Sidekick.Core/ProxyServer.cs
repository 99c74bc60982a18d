using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using Sidekick.Core.Backends;
using Sidekick.Core.Config;
using Sidekick.Core.Proxy;
using Sidekick.Core.Transport;
using Sidekick.Core.Upstream;
using Sidekick.Http1;

namespace Sidekick.Core;

/// <summary>
/// A running sidekick: the listener, the backend table and the client connections. Start one with
/// <see cref="Start"/>; stop it with <see cref="StopAsync"/>. Everything it needs comes from <see cref="SidekickOptions"/>.
/// </summary>
public sealed class ProxyServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<ClientConnection, Task> _connections = new();
    private readonly Task _acceptLoop;
    private readonly ITimer _pruneTimer;
    private BackendTable _table;
    private int _stopped;

    private ProxyServer(SidekickOptions options, TimeProvider time, Random random)
    {
        Options = options;
        Time = time;
        Limits = options.Limits;
        Http1Limits = new Http1Limits
        {
            MaxHeadBytes = options.Limits.MaxHeaderBytes,
            MaxHeaderCount = options.Limits.MaxHeaderCount,
            MaxRequestLineBytes = Math.Min(options.Limits.MaxRequestLineBytes, options.Limits.MaxHeaderBytes),
        };
        Balancer = Balancer.Create(options.HostBalance, random);
        PublicIp = Encoding.ASCII.GetBytes(FindPublicIp());
        _table = BuildTable(options.Sites);

        var endPoint = options.ListenEndPoint;
        _listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            _listener.DualMode = true; // ":8080" listens on every interface, IPv4 and IPv6 (A2)
        }

        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(endPoint);
        _listener.Listen(1024);
        LocalEndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _pruneTimer = time.CreateTimer(_ => PruneIdle(), null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>Binds the listener and starts accepting.</summary>
    public static ProxyServer Start(SidekickOptions options, TimeProvider? time = null, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ProxyServer(options, time ?? TimeProvider.System, random ?? Random.Shared);
    }

    /// <summary>The options this server runs with.</summary>
    public SidekickOptions Options { get; }

    /// <summary>The bound end point (the actual port when 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The current sites and backends.</summary>
    public BackendTable Table => Volatile.Read(ref _table);

    /// <summary>True once a stop has begun: /v1/health answers 503, keep-alive ends.</summary>
    public bool IsStopping => _stopping.IsCancellationRequested;

    /// <summary>Client connections open now.</summary>
    public int ConnectionCount => _connections.Count;

    internal TimeProvider Time { get; }

    internal ProxyLimits Limits { get; }

    internal Http1Limits Http1Limits { get; }

    internal Balancer Balancer { get; }

    internal byte[] PublicIp { get; }

    internal CancellationToken StoppingToken => _stopping.Token;

    /// <summary>
    /// Stops accepting, closes idle connections, lets in-flight requests finish for up to
    /// <paramref name="drainTimeout"/>, then aborts what is left.
    /// </summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false); // idle reads end; responses carry Connection: close
        _listener.Dispose();
        try
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        var all = Task.WhenAll(_connections.Values);
        await Task.WhenAny(all, Task.Delay(drainTimeout, Time)).ConfigureAwait(false);
        await _pruneTimer.DisposeAsync().ConfigureAwait(false);
        foreach (var site in Table.Sites)
        {
            foreach (var b in site.Backends)
            {
                b.Pool.Dispose();
            }
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => new(StopAsync(TimeSpan.Zero));

    private BackendTable BuildTable(ImmutableArray<SiteOptions> sites)
    {
        var built = ImmutableArray.CreateBuilder<Site>(sites.Length);
        foreach (var site in sites)
        {
            var backends = ImmutableArray.CreateBuilder<Backend>(site.Backends.Length);
            foreach (var b in site.Backends)
            {
                var pool = new UpstreamPool(b.Uri, Limits.ConnectTimeout, Limits.UpstreamIdleTimeout, Time);
                backends.Add(new Backend(b, site.Number, pool));
            }

            built.Add(new Site(site.Number, backends.MoveToImmutable()));
        }

        return new BackendTable(built.MoveToImmutable());
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (!_stopping.IsCancellationRequested)
            {
                continue; // e.g. the peer reset before accept completed
            }
            catch (SocketException)
            {
                return;
            }

            var connection = new ClientConnection(this, SocketTransport.Create(socket));
            var task = RunConnectionAsync(connection);
            _connections.TryAdd(connection, task);
            if (task.IsCompleted)
            {
                _connections.TryRemove(connection, out _);
            }
        }
    }

    private async Task RunConnectionAsync(ClientConnection connection)
    {
        await Task.Yield();
        try
        {
            await connection.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(connection, out _);
        }
    }

    private void PruneIdle()
    {
        foreach (var site in Table.Sites)
        {
            foreach (var b in site.Backends)
            {
                b.Pool.Prune();
            }
        }
    }

    /// <summary>
    /// The address shown as X-Real-IP for local clients (E4): the first non-loopback unicast address of the
    /// machine, IPv4 preferred, as the original's "public IP" lookup.
    /// </summary>
    private static string FindPublicIp()
    {
        try
        {
            IPAddress? v6 = null;
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                if (nic.OperationalStatus != OperationalStatus.Up)
                {
                    continue;
                }

                foreach (var a in nic.GetIPProperties().UnicastAddresses)
                {
                    if (IPAddress.IsLoopback(a.Address) || a.Address.IsIPv6LinkLocal)
                    {
                        continue;
                    }

                    if (a.Address.AddressFamily == AddressFamily.InterNetwork)
                    {
                        return a.Address.ToString();
                    }

                    v6 ??= a.Address;
                }
            }

            return v6?.ToString() ?? "127.0.0.1";
        }
        catch (NetworkInformationException)
        {
            return "127.0.0.1";
        }
    }
}
