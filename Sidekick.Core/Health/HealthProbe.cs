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
/// deadline of --health-timeout; redirects within the health URL's origin are followed (10 requests at most); only
/// 200 is up; the body is drained so the connection can be reused.
/// </summary>
internal sealed class HttpHealthProbe(Http1Limits limits) : IHealthProbe
{
    /// <summary>Go's http.Client makes at most this many requests in a row (so follows at most 9 redirects).</summary>
    private const int MaxRequests = 10;

    /// <summary>
    /// One probe: the GET, following redirects within the health URL's own origin (scheme, host and port) as the
    /// original's Go client does (10 requests at most), all within the one deadline. A redirect to another origin is not
    /// followed (the probe checks this backend, over its own connections): the backend counts as down, with the reason.
    /// </summary>
    public async ValueTask<ProbeResult> ProbeAsync(Backend backend, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var origin = backend.Options.HealthUrl;
        var url = origin;
        for (var redirects = 0; ; redirects++)
        {
            var (result, location) = await GetAsync(backend, url, forceNew: false, deadline.Token, cancellationToken).ConfigureAwait(false);
            if (result.StaleConnection)
            {
                // A pooled connection the backend closed while idle says nothing about its health: as for traffic
                // (E16), the same request once more on a fresh connection, within the same deadline (as Go's
                // transport retries it, inside the client's one timeout).
                (result, location) = await GetAsync(backend, url, forceNew: true, deadline.Token, cancellationToken).ConfigureAwait(false);
            }

            if (location is null)
            {
                return result;
            }

            if (!Uri.TryCreate(url, location, out var next))
            {
                return new ProbeResult(false, result.StatusCode, $"Get \"{url}\": failed to parse Location header \"{location}\"");
            }

            if (redirects + 1 >= MaxRequests)
            {
                // Go's words, with the Location as the backend sent it.
                return new ProbeResult(false, result.StatusCode, $"Get \"{location}\": stopped after {MaxRequests} redirects");
            }

            if (Uri.Compare(next, origin, UriComponents.SchemeAndServer, UriFormat.UriEscaped, StringComparison.OrdinalIgnoreCase) != 0)
            {
                return new ProbeResult(false, result.StatusCode, $"response status {result.StatusCode}: redirect to {next} leaves the backend, not followed");
            }

            url = next;
        }
    }

    /// <summary>One GET of <paramref name="url"/>: the result, and the Location to follow when the answer is a redirect.</summary>
    private async ValueTask<(ProbeResult Result, string? Location)> GetAsync(
        Backend backend, Uri url, bool forceNew, CancellationToken deadline, CancellationToken cancellationToken)
    {
        UpstreamConnection? connection = null;
        var reusable = false;
        try
        {
            try
            {
                connection = await backend.HealthPool.RentAsync(forceNew, deadline).ConfigureAwait(false);
            }
            catch (ConnectFailedException ex)
            {
                return (new ProbeResult(false, 0, ex.Message), null);
            }

            var request = $"GET {url.PathAndQuery} HTTP/1.1\r\nHost: {url.Authority}\r\nUser-Agent: sidekick-health\r\n\r\n";
            connection.Output.Write(Encoding.ASCII.GetBytes(request));
            await connection.Output.FlushAsync(deadline).ConfigureAwait(false);

            var head = new ResponseHead();
            var sawByte = false;
            int status;
            while (true)
            {
                var result = await connection.Input.ReadAsync(deadline).ConfigureAwait(false);
                var buffer = result.Buffer;
                sawByte |= !buffer.IsEmpty;
                var parsed = Http1Parser.TryParseResponse(buffer, head, HttpMethodKind.Get, limits, out var consumed, out var error);
                if (parsed == ParseStatus.Error)
                {
                    return (new ProbeResult(false, 0, "malformed HTTP response: " + error.Reason), null);
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
                    return (new ProbeResult(false, 0, "EOF") { StaleConnection = connection.Reused && !sawByte }, null);
                }
            }

            var location = status is 301 or 302 or 303 or 307 or 308 ? Location(head) : null;
            reusable = await DrainAsync(connection, head, deadline).ConfigureAwait(false) && head.KeepAlive;
            return status == 200
                ? (new ProbeResult(true, status, null), null)
                : (new ProbeResult(false, status, $"response status {status}"), location);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (new ProbeResult(false, 0, $"Get \"{url}\": context deadline exceeded"), null);
        }
        catch (Exception ex) when (TransportErrors.IsIoFailure(ex))
        {
            return (new ProbeResult(false, 0, $"Get \"{url}\": {ex.Message}") { StaleConnection = connection is { Reused: true } }, null);
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

    /// <summary>The Location header's value (null when there is none: the 3xx is then the answer, as in Go).</summary>
    private static string? Location(ResponseHead head)
    {
        for (var i = 0; i < head.HeaderCount; i++)
        {
            if (Ascii.EqualsIgnoreCase(head.HeaderName(i), "Location"u8))
            {
                var value = Encoding.Latin1.GetString(head.HeaderValue(i)).Trim();
                return value.Length == 0 ? null : value;
            }
        }

        return null;
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
