using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Sidekick.Core.Tls;
using Sidekick.Core.Transport;

namespace Sidekick.Core.Upstream;

/// <summary>Why a connect attempt failed, with the text the original would show (Go's dial error style).</summary>
internal sealed class ConnectFailedException(string message, Exception? inner) : Exception(message, inner);

/// <summary>
/// Idle connections to one backend, reused last-in-first-out (the warmest socket first), expired after the
/// idle timeout (15 s, below common backend keep-alive timeouts, G1), and checked for EOF before reuse.
/// The idle stack is guarded by a short lock: its critical section is a few instructions, uncontended on
/// the hot path, and a lock-free stack whose nodes are reused would suffer ABA.
/// </summary>
internal sealed class UpstreamPool : IDisposable
{
    private const int MaxIdle = 1024; // as the original's MaxIdleConnsPerHost (G1)

    private readonly string _host;
    private readonly int _port;
    private readonly TimeSpan _connectTimeout;
    private readonly TimeSpan _idleTimeout;
    private readonly TimeProvider _time;
    private readonly UpstreamContext _context;
    private readonly string? _tlsServerName;
    private readonly Lock _lock = new();
    private UpstreamConnection[] _idle = new UpstreamConnection[8];
    private int _count;
    private bool _disposed;

    /// <param name="endpoint">Where to connect: scheme (https means TLS), host and port.</param>
    /// <param name="connectTimeout">Per-address connect timeout.</param>
    /// <param name="idleTimeout">How long an idle connection is kept.</param>
    /// <param name="time">Clock.</param>
    /// <param name="context">DNS cache and TLS settings shared by the server's pools.</param>
    /// <param name="serverName">TLS name to send and verify; the endpoint's host when null (rr-dns mode passes the original name).</param>
    public UpstreamPool(Uri endpoint, TimeSpan connectTimeout, TimeSpan idleTimeout, TimeProvider time, UpstreamContext? context = null, string? serverName = null)
    {
        _context = context ?? UpstreamContext.Default;
        _tlsServerName = endpoint.Scheme == Uri.UriSchemeHttps ? serverName ?? endpoint.IdnHost : null;
        _host = endpoint.IdnHost;
        _port = endpoint.Port;
        _connectTimeout = connectTimeout;
        _idleTimeout = idleTimeout;
        _time = time;
    }

    /// <summary>Idle connections held now.</summary>
    public int IdleCount
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Takes an idle connection that passes the checks, or connects a new one.</summary>
    public ValueTask<UpstreamConnection> RentAsync(bool forceNew, CancellationToken cancellationToken)
    {
        if (!forceNew)
        {
            while (TryPop(out var c))
            {
                if (!IsExpired(c) && c.LooksHealthy())
                {
                    c.Reused = true;
                    return ValueTask.FromResult(c);
                }

                c.Dispose();
            }
        }

        return ConnectAsync(cancellationToken);
    }

    /// <summary>Gives back a connection that finished a request cleanly and may carry another.</summary>
    public void Return(UpstreamConnection connection)
    {
        connection.IdleSince = _time.GetTimestamp();
        lock (_lock)
        {
            if (!_disposed && _count < MaxIdle)
            {
                if (_count == _idle.Length)
                {
                    Array.Resize(ref _idle, _idle.Length * 2);
                }

                _idle[_count++] = connection;
                return;
            }
        }

        connection.Dispose();
    }

    /// <summary>Closes idle connections past the idle timeout (called periodically).</summary>
    public void Prune()
    {
        List<UpstreamConnection>? expired = null;
        lock (_lock)
        {
            // Oldest are at the bottom of the stack.
            var keepFrom = 0;
            while (keepFrom < _count && IsExpired(_idle[keepFrom]))
            {
                (expired ??= []).Add(_idle[keepFrom]);
                keepFrom++;
            }

            if (keepFrom > 0)
            {
                Array.Copy(_idle, keepFrom, _idle, 0, _count - keepFrom);
                Array.Clear(_idle, _count - keepFrom, keepFrom);
                _count -= keepFrom;
            }
        }

        expired?.ForEach(c => c.Dispose());
    }

    public void Dispose()
    {
        UpstreamConnection[] toClose;
        lock (_lock)
        {
            _disposed = true;
            toClose = _idle[.._count];
            Array.Clear(_idle);
            _count = 0;
        }

        foreach (var c in toClose)
        {
            c.Dispose();
        }
    }

    private bool IsExpired(UpstreamConnection c) => _time.GetElapsedTime(c.IdleSince) >= _idleTimeout;

    private bool TryPop(out UpstreamConnection connection)
    {
        lock (_lock)
        {
            if (_count > 0)
            {
                connection = _idle[--_count];
                _idle[_count] = null!;
                return true;
            }
        }

        connection = null!;
        return false;
    }

    private async ValueTask<UpstreamConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        IPAddress[] addresses;
        if (IPAddress.TryParse(_host, out var literal))
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                addresses = _context.Dns is { } cache
                    ? await cache.LookupAsync(_host, cancellationToken).ConfigureAwait(false)
                    : await System.Net.Dns.GetHostAddressesAsync(_host, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                throw new ConnectFailedException($"dial tcp: lookup {_host}: {ex.Message}", ex);
            }

            if (addresses.Length == 0)
            {
                throw new ConnectFailedException($"dial tcp: lookup {_host}: no such host", null);
            }
        }

        ConnectFailedException? last = null;
        foreach (var address in addresses)
        {
            var endPoint = new IPEndPoint(address, _port);
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_connectTimeout);
            SocketIo io;
            try
            {
                if (_tlsServerName is null)
                {
                    return new UpstreamConnection(await SocketTransport.ConnectAsync(socket, endPoint, timeout.Token).ConfigureAwait(false), this);
                }

                io = await SocketIo.ConnectAsync(socket, endPoint, SocketIo.DefaultEngine, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                last = new ConnectFailedException($"dial tcp {Format(endPoint)}: i/o timeout", null);
                continue;
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = new ConnectFailedException($"dial tcp {Format(endPoint)}: connect: {Describe(ex.SocketErrorCode)}", ex);
                continue;
            }
            catch
            {
                socket.Dispose();
                throw;
            }

            // TLS after the connect; a handshake failure is not retried on the next address (as Go's transport).
            return await HandshakeAsync(io, cancellationToken).ConfigureAwait(false);
        }

        throw last!;
    }

    private async Task<UpstreamConnection> HandshakeAsync(SocketIo io, CancellationToken cancellationToken)
    {
        var under = new SocketIoStream(io);
        var stream = new SslStream(under, leaveInnerStreamOpen: false);
        var failure = new StrongBox<string?>();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_context.HandshakeTimeout);
        try
        {
            await stream.AuthenticateAsClientAsync(_context.Tls.ClientOptions(_tlsServerName!, failure), timeout.Token).ConfigureAwait(false);
            return new UpstreamConnection(StreamTransport.Create(stream, under), this);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or SocketException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            io.Discard();
            var reason = failure.Value
                ?? (ex is OperationCanceledException ? "net/http: TLS handshake timeout" : TlsErrors.Describe(ex));
            throw new ConnectFailedException(reason, ex);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            io.Discard();
            throw;
        }
    }

    private static string Format(IPEndPoint ep) =>
        ep.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{ep.Address}]:{ep.Port}" : $"{ep.Address}:{ep.Port}";

    private static string Describe(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.NetworkUnreachable => "network is unreachable",
        SocketError.HostUnreachable => "no route to host",
        SocketError.TimedOut => "connection timed out",
        _ => error.ToString(),
    };
}
