using System.Buffers;
using System.Text;
using Sidekick.Core.Backends;
using Sidekick.Core.Transport;
using Sidekick.Core.Upstream;
using Sidekick.Http1;

namespace Sidekick.Core.Health;

/// <summary>The result of one probe: up only for status 200 (D1).</summary>
internal readonly record struct ProbeResult(bool Up, int StatusCode, string? Error)
{
    /// <summary>The failure happened on a reused pooled connection before any response byte.</summary>
    public bool StaleConnection { get; init; }
}

/// <summary>Checks one backend once. Never throws: failures are results.</summary>
internal interface IHealthProbe
{
    ValueTask<ProbeResult> ProbeAsync(Backend backend, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>
/// GET the health URL over the backend's own upstream machinery (same pool, same TLS and DNS settings), with a
/// deadline of --health-timeout; only 200 is up; the body is drained so the connection can be reused.
/// </summary>
internal sealed class HttpHealthProbe(Http1Limits limits) : IHealthProbe
{
    public async ValueTask<ProbeResult> ProbeAsync(Backend backend, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var result = await ProbeOnceAsync(backend, timeout, forceNew: false, cancellationToken).ConfigureAwait(false);
        // A pooled connection the backend closed while idle says nothing about its health: as for traffic
        // (E16), try once more on a fresh connection.
        return result.StaleConnection
            ? await ProbeOnceAsync(backend, timeout, forceNew: true, cancellationToken).ConfigureAwait(false)
            : result;
    }

    private async ValueTask<ProbeResult> ProbeOnceAsync(Backend backend, TimeSpan timeout, bool forceNew, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var url = backend.Options.HealthUrl;
        UpstreamConnection? connection = null;
        var reusable = false;
        try
        {
            try
            {
                connection = await backend.HealthPool.RentAsync(forceNew, deadline.Token).ConfigureAwait(false);
            }
            catch (ConnectFailedException ex)
            {
                return new ProbeResult(false, 0, ex.Message);
            }

            var request = $"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nUser-Agent: sidekick-health\r\n\r\n";
            connection.Output.Write(Encoding.ASCII.GetBytes(request));
            await connection.Output.FlushAsync(deadline.Token).ConfigureAwait(false);

            var head = new ResponseHead();
            var sawByte = false;
            int status;
            while (true)
            {
                var result = await connection.Input.ReadAsync(deadline.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                sawByte |= !buffer.IsEmpty;
                var parsed = Http1Parser.TryParseResponse(buffer, head, HttpMethodKind.Get, limits, out var consumed, out var error);
                if (parsed == ParseStatus.Error)
                {
                    return new ProbeResult(false, 0, "malformed HTTP response: " + error.Reason);
                }

                if (parsed == ParseStatus.Complete)
                {
                    connection.Input.AdvanceTo(consumed);
                    if (head.StatusCode is >= 100 and < 200)
                    {
                        continue;
                    }

                    status = head.StatusCode;
                    break;
                }

                connection.Input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    return new ProbeResult(false, 0, "EOF") { StaleConnection = connection.Reused && !sawByte };
                }
            }

            reusable = await DrainAsync(connection, head, deadline.Token).ConfigureAwait(false) && head.KeepAlive;
            return status == 200 ? new ProbeResult(true, status, null) : new ProbeResult(false, status, $"response status {status}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(false, 0, $"Get \"{url}\": context deadline exceeded");
        }
        catch (Exception ex) when (TransportErrors.IsIoFailure(ex))
        {
            return new ProbeResult(false, 0, $"Get \"{url}\": {ex.Message}") { StaleConnection = connection is { Reused: true } };
        }
        finally
        {
            if (connection is not null)
            {
                if (reusable)
                {
                    connection.Pool.Return(connection);
                }
                else
                {
                    connection.Dispose();
                }
            }
        }
    }

    private async ValueTask<bool> DrainAsync(UpstreamConnection connection, ResponseHead head, CancellationToken ct)
    {
        var body = default(BodyFramer);
        body.Reset(head.Framing, head.ContentLength);
        if (body.IsEmpty)
        {
            return true;
        }

        while (true)
        {
            var result = await connection.Input.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            var status = body.Advance(buffer, limits, out var take, out _);
            if (status == ChunkedStatus.Error)
            {
                return false;
            }

            connection.Input.AdvanceTo(buffer.GetPosition(take), buffer.End);
            if (status == ChunkedStatus.Done)
            {
                return true;
            }

            if (result.IsCompleted)
            {
                return false; // truncated, or delimited by close: either way the connection is spent
            }
        }
    }
}
