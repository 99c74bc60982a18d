using System.Diagnostics;
using System.Text;
using Sidekick.Core.Backends;
using Sidekick.Core.Observability;
using Sidekick.Http1;

namespace Sidekick.Core.Proxy;

/// <summary>
/// The observability side of a client connection: timestamps, per-backend histograms, the metrics page and
/// trace records. Kept apart from the forwarding code; on the request path it costs two timestamp reads, the
/// histogram increments and one bool check when tracing is off.
/// </summary>
internal sealed partial class ClientConnection
{
    // Stopwatch timestamps: request start (trace latency), attempt start (per-backend histograms), first
    // response byte of the current attempt (0 until one arrives).
    private long _requestStart;
    private long _attemptStart;
    private long _firstByte;

    private void StartAttempt()
    {
        _attemptStart = Stopwatch.GetTimestamp();
        _firstByte = 0;
    }

    private void MarkFirstResponseByte()
    {
        if (_firstByte == 0)
        {
            _firstByte = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>Ends the lease (the original's counters), records the histograms, and traces when asked to.</summary>
    /// <remarks><paramref name="answered"/>: the status sidekick answered itself (a malformed request body), for the trace.</remarks>
    private void EndLease(BackendLease lease, int statusCode, bool failed, bool clientFault = false, int answered = 0)
    {
        // Histograms first: the lease's end (in-flight -1) is what a reader waits for to see a request counted.
        var now = Stopwatch.GetTimestamp();
        var metrics = lease.Backend.Metrics;
        metrics.Duration.Record(now - _attemptStart);
        if (_firstByte != 0)
        {
            metrics.TimeToFirstByte.Record(_firstByte - _attemptStart);
        }

        lease.End(statusCode, _rx, _tx, failed);

        var tracer = _server.Tracer;
        if (tracer.Enabled)
        {
            // What the client got: the backend's status, or 502 when the backend failed this attempt.
            var status = answered != 0 ? answered : failed ? 502 : clientFault && statusCode == 0 ? 499 : statusCode;
            if (tracer.Wants(TraceOrigin.Application, status))
            {
                tracer.Write(BuildRecord(lease.Backend, status, failed, now, tracer.Debug));
            }
        }
    }

    private TraceRecord BuildRecord(Backend backend, int status, bool failed, long now, bool debug)
    {
        var latency = Stopwatch.GetElapsedTime(_requestStart, now);
        var reason = !failed && _sawResponseByte && !_response.Reason.IsEmpty
            ? Encoding.Latin1.GetString(_response.Reason)
            : StatusText.For(status);
        return new TraceRecord
        {
            Origin = TraceOrigin.Application,
            Endpoint = backend.Endpoint,
            Time = DateTime.UtcNow - latency,
            Client = ClientAddress(),
            Rx = _rx,
            Tx = _tx,
            Latency = latency,
            TimeToFirstByte = _firstByte == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(_requestStart, _firstByte),
            StatusCode = status,
            StatusMessage = reason,
            Method = Encoding.ASCII.GetString(_request.Method),
            Path = Encoding.Latin1.GetString(_request.Path),
            Query = Encoding.Latin1.GetString(_request.Query),
            Host = Encoding.Latin1.GetString(_request.Host),
            RequestHeaders = debug ? Headers(_request) : [],
            ResponseHeaders = debug && _sawResponseByte && !failed ? Headers(_response) : [],
        };
    }

    private static KeyValuePair<string, string>[] Headers(MessageHead head)
    {
        var list = new KeyValuePair<string, string>[head.HeaderCount];
        for (var i = 0; i < list.Length; i++)
        {
            list[i] = new(Encoding.Latin1.GetString(head.HeaderName(i)), Encoding.Latin1.GetString(head.HeaderValue(i)));
        }

        return list;
    }

    /// <summary>
    /// The client for the trace (I3, fixed per d.17): the first X-Forwarded-For entry, else X-Real-IP, else the
    /// socket peer. Addresses are shown whole (the original cut everything after the first ':', mangling IPv6).
    /// </summary>
    private string ClientAddress()
    {
        string? realIp = null;
        for (var i = 0; i < _request.HeaderCount; i++)
        {
            var kind = _request.HeaderKind(i);
            if (kind == KnownHeader.XForwardedFor)
            {
                var value = _request.HeaderValue(i);
                var comma = value.IndexOf((byte)',');
                var first = (comma < 0 ? value : value[..comma]).Trim((byte)' ').Trim((byte)'\t');
                if (!first.IsEmpty)
                {
                    return Encoding.Latin1.GetString(first);
                }
            }
            else if (kind == KnownHeader.XRealIp && realIp is null)
            {
                var value = _request.HeaderValue(i).Trim((byte)' ');
                if (!value.IsEmpty)
                {
                    realIp = Encoding.Latin1.GetString(value);
                }
            }
        }

        return realIp ?? Encoding.ASCII.GetString(_peerIp);
    }

    /// <summary>/.prometheus/metrics (I7): answered by sidekick itself, any method, never proxied or counted.</summary>
    private async ValueTask<bool> AnswerMetricsAsync()
    {
        var keep = !RequestHasBody && _request.KeepAlive && !_server.IsStopping;
        var body = MetricsExposition.Render(_server);
        _tx += LocalResponses.Write(ClientOut, 200, MetricsExposition.ContentType, body, close: !keep,
            omitBody: _request.MethodKind == HttpMethodKind.Head);
        await ClientOut.FlushAsync().ConfigureAwait(false);
        return keep;
    }
}
