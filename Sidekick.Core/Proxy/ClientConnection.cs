using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using Sidekick.Core.Backends;
using Sidekick.Core.Threading;
using Sidekick.Core.Transport;
using Sidekick.Core.Upstream;
using Sidekick.Http1;

namespace Sidekick.Core.Proxy;

/// <summary>
/// One client connection: reads request heads, answers built-in paths, forwards everything else to a backend
/// and the response back, request after request (keep-alive, pipelining in order).
/// </summary>
internal sealed partial class ClientConnection
{
    private static readonly byte[] ProtoHttp = "http"u8.ToArray();
    private static readonly byte[] ProtoHttps = "https"u8.ToArray();

    private readonly ProxyServer _server;
    private readonly ITransportConnection _client;
    private RequestHead? _requestHead; // made at the first request: a connection that never sends one holds none
    private byte[]? _peerIpBytes; // the peer's address as text, made at the first forwarded request
    private byte[]? _realIpBytes;

    private RequestHead _request => _requestHead ??= new();
    private ResponseHead _response => _responseHead ??= new();

    private ResponseHead? _responseHead; // made at the first exchange: a connection that never sends a request holds none
    private byte[] _peerIp => _peerIpBytes ?? FindPeerIp();

    private byte[] _realIp => _realIpBytes ?? FindPeerIp(real: true);
    private List<Backend>? _tried; // backends that failed this request, made at the first retry
    private long _deadline; // Environment.TickCount64 when the idle or header timeout fires; 0: none armed
    private long _finishBy; // Environment.TickCount64 by which a body the backend already answered must be in; 0: none
    private UpstreamConnection? _exchanging; // the backend connection of the exchange in flight (a stop or the finish deadline wakes it too)
    private volatile bool _timedOut;
    private volatile bool _sweepableRead; // a head or lingering read is pending: the only reads the sweep may cancel
    private BodyFramer _requestBody;
    private BodyFramer _responseBody;
    private ChunkedDeframer _deframer;

    // Per-request state shared with the request-body and client-watch tasks.
    private volatile bool _clientGone;
    // The client's request body broke its framing (a bad chunk): the request ends with this error's status (400)
    // when no final response has started.
    private Http1Error? _badBody;
    private bool _bodyPending; // the current request's body has not been read to its end (a close must linger)
    private bool _sawResponseByte;
    private long _rx;
    private long _tx;

    public ClientConnection(ProxyServer server, ITransportConnection client)
    {
        _server = server;
        _client = client;
        _proto = client is StreamTransport ? ProtoHttps : ProtoHttp; // X-Forwarded-Proto (TLS clients: https)
    }

    private readonly byte[] _proto;

    /// <summary>The peer's address as text (X-Forwarded-For), and what X-Real-IP shows (E4: a local client is the machine's own address).</summary>
    private byte[] FindPeerIp(bool real = false)
    {
        var peer = (_client.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.Loopback;
        if (peer.IsIPv4MappedToIPv6)
        {
            peer = peer.MapToIPv4();
        }

        _peerIpBytes = Encoding.ASCII.GetBytes(peer.ToString());
        _realIpBytes = IPAddress.IsLoopback(peer) ? _server.PublicIp : _peerIpBytes;
        return real ? _realIpBytes : _peerIpBytes;
    }

    private PipeReader ClientIn => _client.Input;

    private PipeWriter ClientOut => _client.Output;

    public async Task RunAsync()
    {
        var abort = false;
        try
        {
            while (true)
            {
                var head = await ReadRequestHeadAsync().ConfigureAwait(false);
                if (head != HeadRead.Request)
                {
                    break;
                }

                var keepAlive = await HandleRequestAsync().ConfigureAwait(false);
                _request.ReleaseBuffers(); // an idle keep-alive connection holds no head memory
                _responseHead?.ReleaseBuffers();
                if (_abortClient)
                {
                    abort = true;
                    break;
                }

                if (!keepAlive || _server.IsStopping)
                {
                    break;
                }
            }

            if (!abort)
            {
                await ClientOut.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (IsIoFailure(ex))
        {
            // The client went away: nothing to answer.
        }
        finally
        {
            try
            {
                if (abort)
                {
                    _client.Abort();
                }
                else
                {
                    await CloseGracefullyAsync().ConfigureAwait(false);
                }
            }
            finally
            {
                _server.Untrack(this);
            }
        }
    }

    private bool _abortClient;
    private bool _lingering; // the response is complete and the connection reads what the client still sends

    /// <summary>How long a closing connection keeps reading what the client still sends (lingering close).</summary>
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(2);

    // A response-body piece at least this long is sent from the backend's buffers instead of copied (smaller ones
    // cost less to copy than to pin for the gather write).
    private const int BorrowAtLeast = 2048;

    // A body piece at least this long (a full read: SocketReader gathers up to 64 KiB) is sent with "more follows"
    // when the body goes on. It is at least one packet of the largest MSS (loopback's, 65,483), so part of it is
    // always sent and the acknowledgement of that part releases a held tail even if the next piece is late.
    private const int MoreFollowsAtLeast = 64 * 1024;

    /// <summary>
    /// Lingering close (as nginx's lingering_close): completing the output sends what is buffered and then a
    /// FIN; reading until the peer closes (bounded) keeps an RST from destroying a response the client has not
    /// read yet when it is still sending. As nginx's "lingering_close on", it lingers only when the client may still
    /// be sending: a request body was left unread, or bytes are buffered or waiting. Otherwise (a body-less request
    /// with Connection: close, the common case) the socket closes at once: no wait for the client's FIN.
    /// </summary>
    private async Task CloseGracefullyAsync()
    {
        try
        {
            await ClientOut.CompleteAsync().ConfigureAwait(false);
            if (!_bodyPending && NothingMoreToRead())
            {
                // A TLS connection's pump may still be sending the end of the response: the close waits for it, as a
                // plain connection's completion waits for the kernel to take every byte (closing cut a slow client's
                // response short). Not while lingering: a client still sending may read only once it is done.
                await _client.OutputDone.ConfigureAwait(false);
                return;
            }

            Volatile.Write(ref _lingering, true);
            Interlocked.Increment(ref _server.LingeringCloses);
            ArmTimeout(LingerTimeout); // the server's sweep ends the linger
            _sweepableRead = true; // the sweep may end this read
            while (true)
            {
                var result = await ClientIn.ReadAsync().ConfigureAwait(false);
                ClientIn.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || (result.IsCanceled && _timedOut))
                {
                    break; // a stray CancelPendingRead (IsCanceled, not timed out) must not cut the linger short
                }
            }

            if (!_timedOut)
            {
                // The client closed its side; it may still be reading. No longer lingering: a stop resets the
                // connection rather than wait for a client that reads nothing.
                Volatile.Write(ref _lingering, false);
                await _client.OutputDone.ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (IsIoFailure(ex))
        {
        }
        finally
        {
            await ClientIn.CompleteAsync().ConfigureAwait(false);
            _client.Dispose();
        }
    }

    /// <summary>Whether the client has nothing more for us: no byte buffered or waiting, or it closed already.</summary>
    private bool NothingMoreToRead()
    {
        if (!ClientIn.TryRead(out var result))
        {
            return true;
        }

        ClientIn.AdvanceTo(result.Buffer.End);
        return !result.IsCanceled && result.IsCompleted && result.Buffer.IsEmpty;
    }

    private enum HeadRead
    {
        Request,
        Closed,
    }

    /// <summary>
    /// Reads and parses the next request head. Waits up to the idle timeout for the first byte, then up to the
    /// header timeout for the whole head (slowloris guard); answers 400/408/414/431/501/505 as the parser says.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<HeadRead> ReadRequestHeadAsync()
    {
        var limits = _server.Limits;
        var started = false;
        ArmTimeout(limits.IdleTimeout);
        try
        {
            while (true)
            {
                _sweepableRead = true;
                Interlocked.MemoryBarrier(); // pairs with the stop: either its sweep sees this read, or this sees it
                if (_server.IsStopping)
                {
                    return HeadRead.Closed;
                }

                var result = await ClientIn.ReadAsync().ConfigureAwait(false);
                _sweepableRead = false;
                var buffer = result.Buffer;
                if (result.IsCanceled)
                {
                    // Woken by the server's sweep: a deadline passed, or a stop began.
                    ClientIn.AdvanceTo(buffer.Start);
                    if (_timedOut || _server.IsStopping)
                    {
                        if (started && !_server.IsStopping)
                        {
                            WriteLocal(408, "request head not received in time\n", close: true);
                        }

                        return HeadRead.Closed;
                    }

                    continue; // a stray cancel meant for an earlier read
                }

                if (!buffer.IsEmpty)
                {
                    if (!started)
                    {
                        started = true;
                        ArmTimeout(limits.HeaderTimeout);
                    }

                    var status = Http1Parser.TryParseRequest(buffer, _request, _server.Http1Limits, out var consumed, out var error);
                    if (status == ParseStatus.Complete)
                    {
                        ClientIn.AdvanceTo(consumed);
                        ArmTimeout(Timeout.InfiniteTimeSpan);
                        return HeadRead.Request;
                    }

                    if (status == ParseStatus.Error)
                    {
                        ClientIn.AdvanceTo(buffer.End);
                        var extra = error.StatusCode == 405 ? "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, TRACE\r\n" : null;
                        WriteLocal(error.StatusCode, error.Reason + "\n", close: true, extraHeaders: extra);
                        return HeadRead.Closed;
                    }
                }

                ClientIn.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    return HeadRead.Closed; // EOF between requests, or mid-head: nothing to answer
                }
            }
        }
        finally
        {
            _sweepableRead = false;
            ArmTimeout(Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// Arms (or with an infinite value disarms) the head, idle or linger timeout: a deadline the server's sweep
    /// checks, so a request touches no timer (DESIGN: no per-request timer-queue work). Arming forgets an earlier
    /// expiry.
    /// </summary>
    private void ArmTimeout(TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            Volatile.Write(ref _deadline, 0);
            return;
        }

        _timedOut = false;
        Volatile.Write(ref _deadline, Environment.TickCount64 + (long)Math.Ceiling(timeout.TotalMilliseconds));
    }

    /// <summary>
    /// Ends the connection from any thread (a stop whose drain time ran out): resets the client connection and wakes
    /// what waits on it; the connection then ends on its own thread, which closes it. A lingering connection (its
    /// response complete) is left to end its linger, at most <see cref="LingerTimeout"/>: a reset would throw away
    /// what the client has not read yet.
    /// </summary>
    internal void Interrupt()
    {
        if (!Volatile.Read(ref _lingering))
        {
            _client.Interrupt();
            // And the backend connection: a body copy waiting on a backend that stopped reading, and the response read
            // beside it, wait on that connection, not on the client's.
            Volatile.Read(ref _exchanging)?.Transport.Interrupt();
        }
    }

    /// <summary>
    /// Called by the server's sweep: wakes a pending head (or lingering) read when its deadline has passed, or a
    /// pending head read when a stop has begun.
    /// </summary>
    internal void Sweep(long now, bool stopping)
    {
        var finishBy = Volatile.Read(ref _finishBy);
        if (finishBy != 0 && now >= finishBy && Interlocked.CompareExchange(ref _finishBy, 0, finishBy) == finishBy)
        {
            // A request body still arriving after the backend answered: past its time, the copy is stopped.
            ClientIn.CancelPendingRead();
            Volatile.Read(ref _exchanging)?.Output.CancelPendingFlush();
            return;
        }

        if (!_sweepableRead)
        {
            return; // only a head or lingering read is ever cancelled: a cancel left pending would hit a body read
        }

        var deadline = Volatile.Read(ref _deadline);
        if (deadline != 0 && now >= deadline && Interlocked.CompareExchange(ref _deadline, 0, deadline) == deadline)
        {
            _timedOut = true;
            ClientIn.CancelPendingRead();
        }
        else if (stopping)
        {
            ClientIn.CancelPendingRead(); // a stop ends idle and half-received heads alike
        }
    }

    private bool RequestHasBody => _request.Framing == BodyFraming.Chunked
        || (_request.Framing == BodyFraming.ContentLength && _request.ContentLength > 0);

    /// <summary>Handles one parsed request. Returns whether the client connection may carry another request.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool> HandleRequestAsync()
    {
        _rx = _request.HeadLength;
        _tx = 0;
        _requestStart = System.Diagnostics.Stopwatch.GetTimestamp();
        _sawResponseByte = false;
        _clientGone = false;
        _badBody = null;
        _bodyPending = RequestHasBody;

        // An expectation other than 100-continue cannot be met: 417 and close, as the original's Go server answers
        // before any handler (its body, if any, is left unread).
        if (_request.ExpectationUnsupported)
        {
            WriteLocal(417, "", close: true);
            await ClientOut.FlushAsync().ConfigureAwait(false);
            return false;
        }

        // F1: /v1/health is answered by sidekick itself, any method, exact path.
        if (_request.Path.SequenceEqual("/v1/health"u8))
        {
            return await AnswerHealthAsync().ConfigureAwait(false);
        }

        // F2: GET /v1/certificates serves the auto-TLS certificate; other methods are proxied.
        if (_request.MethodKind == HttpMethodKind.Get && _request.Path.SequenceEqual("/v1/certificates"u8))
        {
            var keepAlive = !RequestHasBody && _request.KeepAlive && !_server.IsStopping;
            _tx += CertificateResponses.Write(ClientOut, _server.Certificate?.AutoTlsPem, close: !keepAlive, omitBody: false);
            await ClientOut.FlushAsync().ConfigureAwait(false);
            return keepAlive;
        }

        // I7: the metrics page, exact path, any method; never proxied, never counted as a request.
        if (_request.Path.SequenceEqual("/.prometheus/metrics"u8))
        {
            return await AnswerMetricsAsync().ConfigureAwait(false);
        }

        var generation = _server.Generation;
        var site = generation.Table.ActiveSite;
        if (!generation.Monitor.FirstRound.IsCompleted)
        {
            // Startup (or right after SIGHUP): hold the request until the active site is known rather than
            // answering 502 because nothing has been checked yet (the original's blackout, D2), or sending it to a
            // later site whose probe happened to return before the first site's.
            try
            {
                await generation.Monitor.FirstRound.WaitAsync(_server.Options.HealthTimeout, _server.Time).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }

            site = generation.Table.ActiveSite;
        }

        if (site is null)
        {
            return await AnswerBadGatewayAsync("all backend servers are offline").ConfigureAwait(false);
        }

        // Retry on another backend of the same site, each at most once, when the request provably never reached
        // a backend (connect failure), or when it is idempotent, body-less and no response byte arrived.
        _tried?.Clear();
        string? lastError = null;
        while (true)
        {
            var backend = _server.Balancer.Pick(site, _tried);
            if (backend is null && _tried is { Count: > 0 })
            {
                // Every backend of this site failed for this request and was marked down: the next site is now
                // the first with an online backend (C1), so fail over within the request.
                var next = generation.Table.ActiveSite;
                if (next is not null && !ReferenceEquals(next, site))
                {
                    site = next;
                    backend = _server.Balancer.Pick(site, _tried);
                }
            }

            if (backend is null)
            {
                return await AnswerBadGatewayAsync(lastError ?? "all backend servers are offline").ConfigureAwait(false);
            }

            var lease = backend.Acquire();
            StartAttempt();
            ForwardOutcome outcome;
            try
            {
                outcome = await ForwardAsync(backend).ConfigureAwait(false);
            }
            catch
            {
                EndLease(lease, 0, failed: false, clientFault: true);
                throw;
            }

            if (!outcome.Failed)
            {
                EndLease(lease, _response.StatusCode, failed: false);
                return outcome.KeepClientConnection;
            }

            var backendFault = outcome.Blame == Blame.Backend;
            if (!backendFault && _badBody is { } bad && outcome.Progress != Progress.ResponseStarted)
            {
                // A 1xx may have gone out before; a final answer still may.
                EndLease(lease, 0, failed: false, clientFault: true, answered: bad.StatusCode);
                WriteLocal(bad.StatusCode, bad.Reason + "\n", close: true);
                await ClientOut.FlushAsync().ConfigureAwait(false);
                return false;
            }

            EndLease(lease, _sawResponseByte ? _response.StatusCode : 0, failed: backendFault, clientFault: !backendFault);
            if (!backendFault)
            {
                // A response cut short because the request body broke under it (the backend answered early) must not
                // look complete either: reset, as for a backend failing mid-response.
                _abortClient = _badBody is not null && outcome.Progress == Progress.ResponseStarted;
                return false;
            }

            if (outcome.Transport && outcome.Progress != Progress.ResponseStarted && !_sawResponseByte)
            {
                backend.Metrics.CountPassiveFailure();
                generation.Monitor.ReportFailure(backend, outcome.Message ?? "transport failure"); // D5
            }

            if (outcome.Progress == Progress.ResponseStarted)
            {
                _abortClient = true; // never let a truncated response look complete
                return false;
            }

            var retryable = outcome.Progress == Progress.NotSent
                || (!_sawResponseByte && !RequestHasBody && IsIdempotent(_request.MethodKind));
            if (!retryable || _clientGone)
            {
                return await AnswerBadGatewayAsync(outcome.Message ?? "backend failed").ConfigureAwait(false);
            }

            _server.CountRetry();
            (_tried ??= []).Add(backend);
            lastError = outcome.Message;
        }
    }

    private static bool IsIdempotent(HttpMethodKind method) =>
        method is HttpMethodKind.Get or HttpMethodKind.Head or HttpMethodKind.Options;

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool> AnswerHealthAsync()
    {
        var keep = !RequestHasBody && _request.KeepAlive;
        if (_server.IsStopping)
        {
            WriteLocal(503, "sidekick is shutting down\n", close: true);
            keep = false;
        }
        else if (_server.Table.ActiveSite is null)
        {
            WriteBadGateway("all backend servers are offline", close: !keep);
        }
        else
        {
            LocalResponses.WriteHealthOk(ClientOut);
        }

        await ClientOut.FlushAsync().ConfigureAwait(false);
        return keep;
    }

    private async ValueTask<bool> AnswerBadGatewayAsync(string error)
    {
        // The request body (if any) was not consumed: the connection cannot carry another request.
        var keep = !RequestHasBody && _request.KeepAlive && !_clientGone;
        WriteBadGateway(error, close: !keep);
        await ClientOut.FlushAsync().ConfigureAwait(false);
        return keep;
    }

    private void WriteBadGateway(string error, bool close)
    {
        _server.Metrics.CountLocalResponse(502);
        var body = LocalResponses.BackendDownXml(error, LocalResponses.DecodePath(_request.Path));
        _tx += LocalResponses.Write(ClientOut, 502, "application/xml", body, close,
            omitBody: _request.MethodKind == HttpMethodKind.Head, extraHeaders: "Retry-After: 120\r\n");
    }

    private void WriteLocal(int status, string body, bool close, string? extraHeaders = null)
    {
        _server.Metrics.CountLocalResponse(status);
        _tx += LocalResponses.Write(ClientOut, status, "text/plain; charset=utf-8", body, close, omitBody: false, extraHeaders);
    }

    /// <summary>
    /// Forwards the current request to <paramref name="backend"/> and relays the response. A reused pooled
    /// connection that fails before any response byte is retried once on a fresh connection (E16), when the
    /// request has no body to replay.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<ForwardOutcome> ForwardAsync(Backend backend)
    {
        var hasBody = RequestHasBody;
        var forceNew = false;
        for (var attempt = 0; ; attempt++)
        {
            UpstreamConnection upstream;
            try
            {
                upstream = await backend.Pool.RentAsync(forceNew, CancellationToken.None).ConfigureAwait(false);
            }
            catch (ConnectFailedException ex)
            {
                return ForwardOutcome.Fail(Blame.Backend, Progress.NotSent, ex.Message, transport: true);
            }

            var outcome = await ExchangeAsync(upstream, backend, hasBody).ConfigureAwait(false);
            var stale = outcome.Failed && outcome.Blame == Blame.Backend && upstream.Reused && !_sawResponseByte && attempt == 0
                && ((outcome.Progress == Progress.Sent && !hasBody) || (outcome.Progress == Progress.NotSent && !outcome.Transport));
            if (stale)
            {
                forceNew = true; // stale keep-alive connection: nothing was answered, so re-send on a new one
                continue;
            }

            return outcome;
        }
    }

    /// <summary>One request/response exchange over one upstream connection. Disposes or returns it.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<ForwardOutcome> ExchangeAsync(UpstreamConnection upstream, Backend backend, bool hasBody)
    {
        var reusable = false;
        ValueTask<BodyOutcome>? bodyTask = null; // pooled: awaited exactly once, then set to null
        ValueTask<bool>? watchTask = null;
        Volatile.Write(ref _exchanging, upstream);
        try
        {
            try
            {
                HeadWriter.WriteRequest(upstream.Output, _request, _peerIp, _realIp, _proto, backend.Authority);
            }
            catch (Exception ex) when (IsIoFailure(ex))
            {
                // A pooled connection that died while idle refuses the write: nothing left the proxy.
                return ForwardOutcome.Fail(Blame.Backend, Progress.NotSent, Describe(ex));
            }

            try
            {
                var flush = await upstream.Output.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted)
                {
                    return ForwardOutcome.Fail(Blame.Backend, Progress.Sent, "backend closed the connection");
                }
            }
            catch (Exception ex) when (IsIoFailure(ex))
            {
                return ForwardOutcome.Fail(Blame.Backend, Progress.Sent, Describe(ex), transport: true);
            }

            if (hasBody)
            {
                bodyTask = ForwardRequestBodyAsync(upstream);
            }
            else
            {
                watchTask = WatchClientAsync(upstream);
            }

            // Response head, relaying interim 1xx responses (100 Continue, 103 Early Hints).
            var head = await ReadResponseHeadAsync(upstream).ConfigureAwait(false);
            if (head.Failed)
            {
                if (bodyTask is { IsCompleted: true } finished)
                {
                    bodyTask = null;
                    if (await finished.ConfigureAwait(false) == BodyOutcome.ClientAborted)
                    {
                        return ForwardOutcome.Fail(Blame.Client, Progress.Sent, "client closed the connection");
                    }
                }

                return head;
            }

            if (_response.IsUpgrade)
            {
                if (watchTask is { } watch)
                {
                    watchTask = null;
                    await StopWatchAsync(watch).ConfigureAwait(false);
                }

                if (bodyTask is { } uploading)
                {
                    bodyTask = null;
                    await uploading.ConfigureAwait(false); // the body is done before the tunnel owns both directions
                }

                return await TunnelAsync(upstream).ConfigureAwait(false);
            }

            // A chunked response to an HTTP/1.0 client goes out de-chunked, delimited by the close.
            var dechunk = !_request.IsHttp11 && _response.Framing == BodyFraming.Chunked;
            var keepClient = _request.KeepAlive && _response.Framing != BodyFraming.UntilClose && !dechunk && !_server.IsStopping;
            var body = await ForwardResponseBodyAsync(upstream, dechunk, keepClient).ConfigureAwait(false);
            if (body.Failed)
            {
                return body;
            }

            var requestBodyDone = true;
            if (bodyTask is { } requestBody)
            {
                // The backend answered before it read the whole request body. nginx's `return`, for one, does so and
                // then reads and discards the rest: when the answer is a success and the backend keeps the connection,
                // the copy runs to its end and both connections stay usable (as haproxy does). Otherwise (an error,
                // a close, an unanswered Expect: 100-continue that may hold the body back) the copy stops and the
                // client connection, mid-body, closes.
                bodyTask = null;
                var finishCopy = _response.StatusCode is >= 200 and < 300 && _response.KeepAlive
                    && _response.Framing != BodyFraming.UntilClose && !_request.ExpectContinue && !_clientGone;
                var copied = finishCopy
                    ? await FinishBodyAsync(requestBody).ConfigureAwait(false)
                    : await StopBodyAsync(requestBody, upstream).ConfigureAwait(false);
                requestBodyDone = copied == BodyOutcome.Completed;
                _bodyPending = !requestBodyDone;
            }

            reusable = requestBodyDone && _response.KeepAlive && _response.Framing != BodyFraming.UntilClose;
            return ForwardOutcome.Done(keepClient && requestBodyDone && !_clientGone);
        }
        finally
        {
            if (watchTask is { } watch)
            {
                await StopWatchAsync(watch).ConfigureAwait(false);
            }

            if (bodyTask is { } unfinished)
            {
                await StopBodyAsync(unfinished, upstream).ConfigureAwait(false);
            }

            Volatile.Write(ref _exchanging, null);
            if (reusable && !_server.IsStopping)
            {
                upstream.Pool.Return(upstream);
            }
            else
            {
                upstream.Dispose();
            }
        }
    }

    private enum BodyOutcome
    {
        Completed,
        ClientAborted,
        BackendFailed,
        Cancelled,
        Malformed,
    }

    /// <summary>Copies the request body to the backend by its framing, bytes as received, flushing as they arrive.</summary>
    /// <remarks>
    /// Runs beside the response reader: it returns to the caller at its first wait (for the client or for the
    /// backend to take bytes), on the same thread, without a hop to the thread pool.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<BodyOutcome> ForwardRequestBodyAsync(UpstreamConnection upstream)
    {
        _requestBody.Reset(_request.Framing, _request.ContentLength);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await ClientIn.ReadAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (IsIoFailure(ex))
            {
                return ClientAborted(upstream);
            }

            var buffer = result.Buffer;
            if (result.IsCanceled)
            {
                ClientIn.AdvanceTo(buffer.Start);
                return BodyOutcome.Cancelled;
            }

            var status = _requestBody.Advance(buffer, _server.Http1Limits, out var take, out var bodyError);
            if (status == ChunkedStatus.Error)
            {
                // The client sent a malformed chunked body (nothing of the bad part went on): the backend's view of
                // this request is broken, so its connection goes, and the client gets a 400 unless a response has
                // begun (as nginx and haproxy answer; the connection was only closed before).
                ClientIn.AdvanceTo(buffer.End);
                _badBody = bodyError;
                upstream.Input.CancelPendingRead();
                return BodyOutcome.Malformed;
            }

            var done = status == ChunkedStatus.Done;

            var slice = buffer.Slice(0, take);
            try
            {
                foreach (var segment in slice)
                {
                    upstream.Output.Write(segment.Span);
                }
            }
            catch (Exception ex) when (IsIoFailure(ex))
            {
                ClientIn.AdvanceTo(buffer.Start);
                return BodyOutcome.BackendFailed; // the response reader sees the backend's side and answers 502
            }

            _rx += take;
            if (done || take == buffer.Length)
            {
                ClientIn.AdvanceTo(slice.End);
            }
            else
            {
                ClientIn.AdvanceTo(slice.End, buffer.End);
            }

            if (take > 0 || done)
            {
                FlushResult flush;
                try
                {
                    flush = await upstream.Output.FlushAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (IsIoFailure(ex))
                {
                    return BodyOutcome.BackendFailed;
                }

                if (flush.IsCanceled)
                {
                    return BodyOutcome.Cancelled;
                }

                if (flush.IsCompleted)
                {
                    return BodyOutcome.BackendFailed;
                }
            }

            if (done)
            {
                return BodyOutcome.Completed;
            }

            if (result.IsCompleted)
            {
                return ClientAborted(upstream);
            }
        }
    }

    /// <summary>The client went away (or broke the body) mid-request: stop waiting for a response nobody will read.</summary>
    private BodyOutcome ClientAborted(UpstreamConnection upstream)
    {
        _clientGone = true;
        upstream.Input.CancelPendingRead();
        return BodyOutcome.ClientAborted;
    }

    /// <summary>
    /// While a body-less request waits for its response, watches the client for EOF so that a client that goes
    /// away cancels the upstream request (long polls, watches) instead of holding the backend.
    /// </summary>
    /// <returns>Whether the client went away (a value only because the pooled builder is for <c>ValueTask&lt;T&gt;</c>).</returns>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool> WatchClientAsync(UpstreamConnection upstream)
    {
        try
        {
            var result = await ClientIn.ReadAsync().ConfigureAwait(false);
            // Never consume: a pipelined next request stays buffered for the request loop.
            ClientIn.AdvanceTo(result.Buffer.Start);
            if (!result.IsCanceled && result.IsCompleted && result.Buffer.IsEmpty)
            {
                _clientGone = true;
                upstream.Input.CancelPendingRead();
            }
        }
        catch (Exception ex) when (IsIoFailure(ex))
        {
            _clientGone = true;
            upstream.Input.CancelPendingRead();
        }

        return _clientGone;
    }

    /// <summary>Ends the request-body copy, stopping it first when it still runs (awaited exactly once: pooled).</summary>
    private async ValueTask<BodyOutcome> StopBodyAsync(ValueTask<BodyOutcome> body, UpstreamConnection upstream)
    {
        if (body.IsCompleted)
        {
            return await body.ConfigureAwait(false);
        }

        ClientIn.CancelPendingRead();
        upstream.Output.CancelPendingFlush();
        var outcome = await body.ConfigureAwait(false);
        // A cancel that raced with the body's last flush may still be pending on the writer (or the reader): that
        // upstream connection must not carry another request, nor the client connection another body.
        return outcome == BodyOutcome.Completed ? BodyOutcome.Cancelled : outcome;
    }

    /// <summary>
    /// Lets the request-body copy run to its end after the backend already answered, for at most the header timeout:
    /// a client that stops sending mid-body must not hold both connections for ever. Past that, it is stopped. The
    /// time limit is a deadline the server's sweep checks, like the head timeout: no timer and no allocation per request
    /// (a delay task per request stayed in the timer queue for the whole timeout, thousands of them under an upload
    /// load, each waking the runtime's timer thread).
    /// </summary>
    private async ValueTask<BodyOutcome> FinishBodyAsync(ValueTask<BodyOutcome> body)
    {
        if (body.IsCompleted)
        {
            return await body.ConfigureAwait(false);
        }

        Volatile.Write(ref _finishBy, Environment.TickCount64 + (long)Math.Ceiling(_server.Limits.HeaderTimeout.TotalMilliseconds));
        BodyOutcome outcome;
        bool inTime;
        try
        {
            outcome = await body.ConfigureAwait(false);
        }
        finally
        {
            inTime = Interlocked.Exchange(ref _finishBy, 0) != 0;
        }

        // When the sweep took the deadline, it stopped the copy or is about to (a cancel that comes after the copy's
        // end is left pending on both connections): the body is not complete in time either way, so neither
        // connection carries another request.
        return inTime || outcome != BodyOutcome.Completed ? outcome : BodyOutcome.Cancelled;
    }

    /// <summary>Ends the client watch (awaited exactly once: its value task is pooled).</summary>
    private async ValueTask StopWatchAsync(ValueTask<bool> watch)
    {
        // Cancel only what still runs: a cancel with no read pending would cancel the connection's next read.
        if (!watch.IsCompleted)
        {
            ClientIn.CancelPendingRead();
        }

        await watch.ConfigureAwait(false);
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<ForwardOutcome> ReadResponseHeadAsync(UpstreamConnection upstream)
    {
        var input = upstream.Input;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (IsIoFailure(ex))
            {
                return ForwardOutcome.Fail(Blame.Backend, Progress.Sent, Describe(ex), transport: true);
            }

            var buffer = result.Buffer;
            if (result.IsCanceled || _clientGone)
            {
                input.AdvanceTo(buffer.Start);
                return ForwardOutcome.Fail(Blame.Client, Progress.Sent,
                    ClientEnded);
            }

            if (!buffer.IsEmpty)
            {
                MarkFirstResponseByte();
                _sawResponseByte = true;
                var status = Http1Parser.TryParseResponse(buffer, _response, _request.MethodKind, _server.Http1Limits, out var consumed, out var error);
                if (status == ParseStatus.Complete)
                {
                    input.AdvanceTo(consumed);
                    var code = _response.StatusCode;
                    if (code is >= 100 and < 200 && code != 101)
                    {
                        // RFC 9110 15.2: no 1xx to an HTTP/1.0 client.
                        if (_request.IsHttp11)
                        {
                            _tx += HeadWriter.WriteResponse(ClientOut, _response, keepAlive: true, clientIsHttp10: false);
                            var flush = await ClientOut.FlushAsync().ConfigureAwait(false);
                            if (flush.IsCompleted)
                            {
                                return ForwardOutcome.Fail(Blame.Client, Progress.Sent, "client closed the connection");
                            }
                        }

                        continue;
                    }

                    if (code == 101 && !_request.IsUpgrade)
                    {
                        return ForwardOutcome.Fail(Blame.Backend, Progress.Sent, "backend switched protocols without an upgrade request");
                    }

                    return default;
                }

                if (status == ParseStatus.Error)
                {
                    input.AdvanceTo(buffer.End);
                    return ForwardOutcome.Fail(Blame.Backend, Progress.Sent, "malformed HTTP response: " + error.Reason);
                }
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return ForwardOutcome.Fail(Blame.Backend, Progress.Sent,
                    buffer.IsEmpty ? "EOF" : "unexpected EOF in response head");
            }
        }
    }

    /// <summary>
    /// Writes the response head and relays the body by its framing, flushing whenever the backend read returns. The
    /// head goes out with the first piece of the body (or at once when there is none): a body whose framing is broken
    /// from its first bytes (a chunk size that is not hex) is then answered 502, not a head and a reset.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<ForwardOutcome> ForwardResponseBodyAsync(UpstreamConnection upstream, bool dechunk, bool keepClient)
    {
        _responseBody.Reset(_response.Framing, _response.ContentLength);
        if (_responseBody.IsEmpty)
        {
            WriteResponseHead(keepClient);
            return await FlushClientAsync().ConfigureAwait(false);
        }

        var input = upstream.Input;
        _deframer.Reset();
        var progress = Progress.Sent; // ResponseStarted once the head is written
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (IsIoFailure(ex))
            {
                return ForwardOutcome.Fail(Blame.Backend, progress, Describe(ex));
            }

            var buffer = result.Buffer;
            if (result.IsCanceled || _clientGone)
            {
                input.AdvanceTo(buffer.Start);
                return ForwardOutcome.Fail(Blame.Client, progress, ClientEnded);
            }

            var status = _responseBody.Advance(buffer, _server.Http1Limits, out var take, out var error);
            if (status == ChunkedStatus.Error)
            {
                input.AdvanceTo(buffer.End);
                return ForwardOutcome.Fail(Blame.Backend, progress, "malformed chunked response: " + error.Reason);
            }

            if (progress != Progress.ResponseStarted)
            {
                WriteResponseHead(keepClient);
                progress = Progress.ResponseStarted;
            }

            // A body delimited by close ends with the connection.
            var done = status == ChunkedStatus.Done || (_response.Framing == BodyFraming.UntilClose && result.IsCompleted);

            var slice = buffer.Slice(0, take);
            // A large piece goes out from the backend's read buffers as they are (one gather write, no copy); those
            // buffers are then consumed only once the flush has sent them.
            var borrowed = false;
            if (dechunk)
            {
                _tx += _deframer.Write(slice, ClientOut);
            }
            else
            {
                // A piece of a full read goes out as "more follows" (MSG_MORE) when the body goes on: the kernel fills
                // the piece's last packet from the next one instead of sending it short.
                borrowed = take >= BorrowAtLeast && _client.TryWriteBorrowed(slice, moreFollows: !done && take >= MoreFollowsAtLeast);
                if (!borrowed)
                {
                    foreach (var segment in slice)
                    {
                        ClientOut.Write(segment.Span);
                    }
                }

                _tx += take;
            }

            if (!borrowed)
            {
                Consume(input, buffer, slice, done);
            }

            var flushed = await FlushClientAsync().ConfigureAwait(false);
            if (borrowed)
            {
                Consume(input, buffer, slice, done);
            }

            if (flushed.Failed || done)
            {
                return flushed;
            }

            if (result.IsCompleted)
            {
                return ForwardOutcome.Fail(Blame.Backend, Progress.ResponseStarted, "unexpected EOF in response body");
            }
        }
    }

    private void WriteResponseHead(bool keepClient) =>
        _tx += HeadWriter.WriteResponse(ClientOut, _response, keepClient, !_request.IsHttp11);

    /// <summary>Why the response read was cancelled on the client's side: its request body broke, or it went away.</summary>
    private string ClientEnded => _badBody is { } bad ? "malformed request body: " + bad.Reason : "client closed the connection";

    private static void Consume(PipeReader input, in ReadOnlySequence<byte> buffer, in ReadOnlySequence<byte> slice, bool done)
    {
        if (done || slice.Length == buffer.Length)
        {
            input.AdvanceTo(slice.End);
        }
        else
        {
            input.AdvanceTo(slice.End, buffer.End);
        }
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<ForwardOutcome> FlushClientAsync()
    {
        try
        {
            var flush = await ClientOut.FlushAsync().ConfigureAwait(false);
            // A cancelled flush sent nothing (and dropped borrowed body pieces): the response cannot go on.
            return flush.IsCompleted || flush.IsCanceled
                ? ForwardOutcome.Fail(Blame.Client, Progress.ResponseStarted, "client closed the connection")
                : default;
        }
        catch (Exception ex) when (IsIoFailure(ex))
        {
            return ForwardOutcome.Fail(Blame.Client, Progress.ResponseStarted, Describe(ex));
        }
    }

    /// <summary>After 101: copy both ways until either side closes (the original fails here, E15).</summary>
    private async ValueTask<ForwardOutcome> TunnelAsync(UpstreamConnection upstream)
    {
        _tx += HeadWriter.WriteResponse(ClientOut, _response, keepAlive: false, clientIsHttp10: false);
        var flushed = await FlushClientAsync().ConfigureAwait(false);
        if (flushed.Failed)
        {
            return flushed;
        }

        var up = PumpAsync(ClientIn, upstream.Output, toClient: false);
        var down = PumpAsync(upstream.Input, ClientOut, toClient: true);
        var first = await Task.WhenAny(up, down).ConfigureAwait(false);
        // One side ended: pass the close on, so the other direction ends too.
        if (first == up)
        {
            upstream.Input.CancelPendingRead();
        }
        else
        {
            ClientIn.CancelPendingRead();
        }

        await Task.WhenAll(up, down).ConfigureAwait(false);
        return ForwardOutcome.Done(keepAlive: false);
    }

    private async Task PumpAsync(PipeReader from, PipeWriter to, bool toClient)
    {
        try
        {
            while (true)
            {
                var result = await from.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                foreach (var segment in buffer)
                {
                    to.Write(segment.Span);
                }

                if (toClient)
                {
                    _tx += buffer.Length;
                }
                else
                {
                    _rx += buffer.Length;
                }

                from.AdvanceTo(buffer.End);
                if (result.IsCanceled || result.IsCompleted)
                {
                    break;
                }

                var flush = await to.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }

            await to.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (IsIoFailure(ex))
        {
            // A reset on either side ends the tunnel.
        }
    }

    private static bool IsIoFailure(Exception ex) => TransportErrors.IsIoFailure(ex) || ex is OperationCanceledException;

    private static string Describe(Exception ex) => ex switch
    {
        System.Net.Sockets.SocketException se when se.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionReset => "read: connection reset by peer",
        _ => ex.Message,
    };
}
