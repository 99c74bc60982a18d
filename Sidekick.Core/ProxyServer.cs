using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Sidekick.Core.Backends;
using Sidekick.Core.Config;
using Sidekick.Core.NameResolution;
using Sidekick.Core.Health;
using Sidekick.Core.Observability;
using Sidekick.Core.Proxy;
using Sidekick.Core.Tls;
using Sidekick.Core.Transport;
using Sidekick.Core.Transport.Epoll;
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
    private readonly ConcurrentDictionary<ClientConnection, Task?> _connections = new(); // null until RunAsync first waits
    private readonly Task _acceptLoop;
    private readonly EpollListener? _epollListener; // on Linux: accepted on the epoll loop (TLS too)
    private readonly ITimer _pruneTimer;
    private readonly Timer _sweeper;
    private readonly IHealthProbe _probe;
    private readonly Random _random;
    private readonly Action<BackendTransition>? _onTransition;
    private readonly DnsCache _dns;
    private readonly UpstreamContext _upstream;
    private readonly ITimer? _rrTimer;
    private readonly Lock _reloadLock = new();
    private ImmutableArray<SiteOptions> _baseSites;
    private Generation _generation;
    private int _stopped;
    private long _retries;
    private long _accepted;
    private long _lastActivity = -1;
    private bool _activeSinceTrim;

    private ProxyServer(SidekickOptions options, TimeProvider time, Random random, IHealthProbe? probe, Action<BackendTransition>? onTransition)
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
        _random = random;
        _onTransition = onTransition;
        _probe = probe ?? new HttpHealthProbe(Http1Limits);
        Tracer = new RequestTracer(options, Metrics);

        // TLS and DNS (issue 6): certificate problems are fatal here, before the listener exists.
        Certificate = ServerCertificate.FromOptions(options, time, message => Console.Error.WriteLine("sidekick: " + message));
        _dns = new DnsCache(Resolver, options.DnsTtl, time);
        _upstream = new UpstreamContext(_dns, UpstreamTls.FromOptions(options)) { HandshakeTimeout = options.Limits.UpstreamTlsHandshakeTimeout };
        _baseSites = options.Sites;
        var sites = options.RoundRobinDns ? ExpandRoundRobin(options.Sites) : options.Sites;
        StartupMessages = options.RoundRobinDns ? [.. options.Sites.Where(RoundRobinDns.Applies).Select(RoundRobinDns.Announcement)] : [];

        var endPoint = options.ListenEndPoint;
        _listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            _listener.DualMode = true; // ":8080" listens on every interface, IPv4 and IPv6 (A2)
        }

        ListenSocket.ReuseAddressOnly(_listener);
        _listener.Bind(endPoint);
        _listener.Listen(1024);
        DelayFirstAck(_listener);
        LocalEndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _generation = NewGeneration(BackendTable.Build(sites, previous: null, Limits, Time, _upstream));
        _generation.Monitor.Start();
        _pruneTimer = time.CreateTimer(_ => PruneIdle(), null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        // Client head and idle timeouts are deadlines on each connection, checked by one periodic sweep (real
        // time: these are socket deadlines), a quarter of the shortest timeout apart, at most a second.
        var shortest = Math.Min(Limits.HeaderTimeout.TotalMilliseconds, Limits.IdleTimeout.TotalMilliseconds);
        var period = TimeSpan.FromMilliseconds(Math.Clamp(shortest / 4, 10, 1000));
        _sweeper = new Timer(_ => Sweep(), null, period, period);
        if (SocketIo.DefaultEngine == SocketEngine.Epoll)
        {
            _epollListener = new EpollListener(_listener, OnAccepted, message => Console.Error.WriteLine("sidekick: " + message));
            _acceptLoop = Task.CompletedTask;
        }
        else
        {
            _acceptLoop = AcceptLoopAsync();
        }
        if (options.RoundRobinDns && options.DnsTtl > TimeSpan.Zero)
        {
            _rrTimer = time.CreateTimer(_ => _ = RefreshRoundRobinAsync(), null, options.DnsTtl, options.DnsTtl);
        }
    }

    /// <summary>The listener's certificate (--cert/--key or auto-TLS), or null for plain HTTP.</summary>
    public ServerCertificate? Certificate { get; }

    /// <summary>Lines the command line prints at start (rr-dns mode announcements, G6).</summary>
    public IReadOnlyList<string> StartupMessages { get; }

    private IDnsResolver Resolver => Options.DnsResolver ?? SystemDnsResolver.Instance;

    /// <summary>Binds the listener and starts accepting.</summary>
    /// <param name="options">The configuration.</param>
    /// <param name="onTransition">Called when a backend goes up or down (for logs); must not block.</param>
    public static ProxyServer Start(SidekickOptions options, Action<BackendTransition>? onTransition = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new ProxyServer(options, TimeProvider.System, Random.Shared, probe: null, onTransition);
    }

    /// <summary>Starts with injected time, randomness and probe (tests).</summary>
    internal static ProxyServer Start(SidekickOptions options, TimeProvider time, Random random, IHealthProbe? probe, Action<BackendTransition>? onTransition = null) =>
        new(options, time, random, probe, onTransition);

    /// <summary>The options this server runs with.</summary>
    public SidekickOptions Options { get; }

    /// <summary>The bound end point (the actual port when 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The current sites and backends.</summary>
    public BackendTable Table => Generation.Table;

    /// <summary>Client connections that closed with a lingering read (tests).</summary>
    internal long LingeringCloses;

    /// <summary>How often the pools and heap were given back after activity (tests).</summary>
    internal int MemoryReturns { get; private set; }

    /// <summary>Requests re-sent to another backend so far.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Completes when the first health round of the current table is in (some backend up, or all probed).</summary>
    public Task FirstHealthRound => Generation.Monitor.FirstRound;

    internal Generation Generation => Volatile.Read(ref _generation);

    /// <summary>Server-wide counters (local responses, trace drops) for the metrics page and the table.</summary>
    public ServerMetrics Metrics { get; } = new();

    /// <summary>Completed requests and probes to print (I3-I5); read by one writer. Ends when the server stops.</summary>
    public System.Threading.Channels.ChannelReader<TraceRecord> Traces => Tracer.Reader;

    internal RequestTracer Tracer { get; }

    internal void CountRetry() => Interlocked.Increment(ref _retries);

    /// <summary>
    /// SIGHUP (J1): swap in new sites atomically. Endpoints present before and after keep their state, stats,
    /// probe loop and pooled connections; removed ones finish their in-flight requests (their pools close
    /// connections as they come back); new ones start probing at once.
    /// </summary>
    public void Reload(ImmutableArray<SiteOptions> sites)
    {
        lock (_reloadLock)
        {
            _baseSites = sites;
            SwapTable(Options.RoundRobinDns ? ExpandRoundRobin(sites) : sites);
        }
    }

    /// <summary>
    /// rr-dns mode (G6): resolve the single-endpoint sites again and reload when the addresses changed; new
    /// addresses become backends, vanished ones drain. A failed lookup keeps the current backends.
    /// </summary>
    internal async Task RefreshRoundRobinAsync()
    {
        ImmutableArray<SiteOptions> baseSites;
        lock (_reloadLock)
        {
            baseSites = _baseSites;
        }

        ImmutableArray<SiteOptions> expanded;
        try
        {
            expanded = await RoundRobinDns.ExpandAsync(baseSites, Resolver, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConfigException or OperationCanceledException)
        {
            return;
        }

        lock (_reloadLock)
        {
            if (_stopping.IsCancellationRequested || baseSites != _baseSites)
            {
                return;
            }

            var now = Table.Sites.Select(s => string.Join('|', s.Backends.Select(b => b.Endpoint)));
            var next = expanded.Select(s => string.Join('|', s.Backends.Select(b => b.Endpoint)));
            if (!now.SequenceEqual(next))
            {
                SwapTable(expanded);
            }
        }
    }

    private ImmutableArray<SiteOptions> ExpandRoundRobin(ImmutableArray<SiteOptions> sites) =>
        RoundRobinDns.ExpandAsync(sites, Resolver, CancellationToken.None).GetAwaiter().GetResult();

    private void SwapTable(ImmutableArray<SiteOptions> sites)
    {
        var old = Generation;
        var next = NewGeneration(BackendTable.Build(sites, old.Table, Limits, Time, _upstream));
        Volatile.Write(ref _generation, next);
        next.Monitor.Start();
        old.Monitor.Dispose();
        var kept = next.Table.Sites.SelectMany(s => s.Backends).ToHashSet();
        foreach (var removed in old.Table.Sites.SelectMany(s => s.Backends).Where(b => !kept.Contains(b)))
        {
            removed.Pool.Dispose();
            removed.HealthPool.Dispose();
        }
    }

    /// <summary>SIGHUP: rebuild the sites from the same SITE arguments and options (ellipses, names) and reload.</summary>
    /// <exception cref="ConfigException">The arguments no longer expand (e.g. a name that does not resolve).</exception>
    public void ReloadFromArguments() =>
        Reload(Config.Sites.Build([.. Options.Sites.Select(s => s.Argument)], Options.HealthPath, Options.ReadHealthPath, Options.HealthPort));

    private Generation NewGeneration(BackendTable table) =>
        new(table, new HealthMonitor(table, Options, _probe, Time, _random, _onTransition, Tracer));

    /// <summary>True once a stop has begun: /v1/health answers 503, keep-alive ends.</summary>
    public bool IsStopping => _stopping.IsCancellationRequested;

    /// <summary>Client connections open now.</summary>
    public int ConnectionCount => _connections.Count;

    internal TimeProvider Time { get; }

    internal ProxyLimits Limits { get; }

    internal Http1Limits Http1Limits { get; }

    internal Balancer Balancer { get; }

    internal byte[] PublicIp { get; }

    /// <summary>
    /// Stops accepting, closes idle connections and half-received heads, lets in-flight requests finish for up to
    /// <paramref name="drainTimeout"/>, then resets the connections still in flight and returns once they have ended (at
    /// most a second more), so an embedding process keeps no request running on disposed pools. Lingering connections
    /// (response complete) end their linger by themselves.
    /// </summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false); // responses carry Connection: close from now on
        Sweep(); // idle connections end now
        _epollListener?.Close();
        _listener.Dispose();
        try
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        var all = Task.WhenAll(_connections.Values.OfType<Task>());
        await Task.WhenAny(all, Task.Delay(drainTimeout, Time)).ConfigureAwait(false);
        if (!all.IsCompleted)
        {
            // The drain time is over: what is still open is reset, as nginx does at the end of its shutdown timeout,
            // so nothing is left running on the pools and timers disposed below (lingering ones end by themselves).
            foreach (var connection in _connections.Keys)
            {
                connection.Interrupt();
            }

            await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(1))).ConfigureAwait(false);
        }
        await _pruneTimer.DisposeAsync().ConfigureAwait(false);
        if (_rrTimer is not null)
        {
            await _rrTimer.DisposeAsync().ConfigureAwait(false);
        }

        Certificate?.Dispose();
        _dns.Dispose();
        Generation.Monitor.Dispose();
        Tracer.Complete();
        foreach (var site in Table.Sites)
        {
            foreach (var b in site.Backends)
            {
                b.Pool.Dispose();
                b.HealthPool.Dispose();
            }
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => new(StopAsync(TimeSpan.Zero));

    /// <summary>
    /// Linux: accepted connections start with delayed acknowledgements (TCP_QUICKACK off on the listener, which its
    /// connections inherit, as haproxy does in HTTP mode). The kernel then does not acknowledge a new connection's
    /// request in a packet of its own: the acknowledgement goes with the response (one segment less per connection;
    /// a large upload is still acknowledged every second segment).
    /// </summary>
    private static void DelayFirstAck(Socket listener)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            listener.SetRawSocketOption(Native.IPPROTO_TCP, Native.TCP_QUICKACK, stackalloc byte[4]); // an int 0
        }
        catch (SocketException)
        {
            // An optimisation only.
        }
    }

    /// <summary>Whether the listener asks for delayed acknowledgements (TCP_QUICKACK off); tests read it.</summary>
    internal bool ListenerDelaysFirstAck
    {
        get
        {
            Span<byte> value = stackalloc byte[4];
            return OperatingSystem.IsLinux()
                && _listener.GetRawSocketOption(Native.IPPROTO_TCP, Native.TCP_QUICKACK, value) == 4 && BitConverter.ToInt32(value) == 0;
        }
    }

    /// <summary>A connection the epoll loop accepted (on the loop's thread).</summary>
    private void OnAccepted(EpollSocket socket)
    {
        if (_stopping.IsCancellationRequested)
        {
            socket.Close();
            socket.Dispose();
            return;
        }

        Interlocked.Increment(ref _accepted);
        if (Certificate is { } certificate)
        {
            _ = AcceptTlsAsync(socket, certificate); // on this thread up to the handshake's first wait for data
            return;
        }

        Track(new ClientConnection(this, SocketTransport.Create(socket)));
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

            Interlocked.Increment(ref _accepted);
            if (Certificate is { } certificate)
            {
                _ = AcceptTlsAsync(SocketIo.Create(socket, SocketEngine.Runtime), certificate); // the handshake runs off the accept loop
                continue;
            }

            Track(new ClientConnection(this, SocketTransport.Create(socket)));
        }
    }

    private void Sweep()
    {
        var now = Environment.TickCount64;
        var stopping = IsStopping;
        foreach (var pair in _connections)
        {
            pair.Key.Sweep(now, stopping);
        }

        if (stopping && _connections.IsEmpty)
        {
            _sweeper.Dispose(); // after a stop the sweep runs until the last connection (lingering or late) ends
        }
    }

    /// <summary>Runs a connection (on this thread up to its first wait) and tracks it until it ends.</summary>
    private void Track(ClientConnection connection)
    {
        _connections[connection] = null; // before it runs: one that ends at once has removed itself when RunAsync returns
        var task = connection.RunAsync();
        if (!task.IsCompleted)
        {
            _connections.TryUpdate(connection, task, null);
        }
    }

    /// <summary>Called by a connection as it ends.</summary>
    internal void Untrack(ClientConnection connection) => _connections.TryRemove(connection, out _);

    /// <summary>TLS termination (H2): handshake within <see cref="ProxyLimits.TlsHandshakeTimeout"/>, then HTTP/1.1 over the stream; a failed handshake just closes.</summary>
    private async Task AcceptTlsAsync(SocketIo io, ServerCertificate certificate)
    {
        var under = new SocketIoStream(io);
        var ssl = new SslStream(under, leaveInnerStreamOpen: false);
        try
        {
            io.SetNoDelay();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            timeout.CancelAfter(Limits.TlsHandshakeTimeout);
            await ssl.AuthenticateAsServerAsync(certificate.ServerOptions(), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            io.Discard();
            return;
        }

        Track(new ClientConnection(this, StreamTransport.Create(ssl, under)));
    }

    private void PruneIdle()
    {
        long activity = Interlocked.Read(ref _accepted);
        foreach (var site in Table.Sites)
        {
            foreach (var b in site.Backends)
            {
                activity += b.Requests;
                b.Pool.Prune();
                if (!ReferenceEquals(b.HealthPool, b.Pool))
                {
                    b.HealthPool.Prune();
                }
            }
        }

        ReturnMemoryWhenIdle(activity);
    }

    /// <summary>
    /// Once no connection came and no request was forwarded for a whole prune period (5 s) after some activity, the
    /// pools are emptied and the heap is compacted and given back to the system (one blocking collection while idle),
    /// so a sidecar that served a burst goes back to its resident size at rest instead of keeping its peak.
    /// </summary>
    private void ReturnMemoryWhenIdle(long activity)
    {
        if (activity != _lastActivity)
        {
            _lastActivity = activity;
            _activeSinceTrim = true;
            return;
        }

        if (!_activeSinceTrim || IsStopping)
        {
            return;
        }

        _activeSinceTrim = false;
        MemoryReturns++;
        ReusePools.ClearAll();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
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

/// <summary>A backend table and the health monitor that owns its probe loops; swapped as one.</summary>
internal sealed record Generation(BackendTable Table, HealthMonitor Monitor);
