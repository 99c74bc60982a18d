using System.Threading.Channels;
using Sidekick.Core.Config;

namespace Sidekick.Core.Observability;

/// <summary>
/// Decides which completed requests and probes become trace records (--trace, --errors, --status-code,
/// --quiet: I3, A13, A14, A23, A24) and hands them to one reader through a bounded channel. The request path
/// checks <see cref="Enabled"/> (one field read) and never waits: a full channel drops the record and counts it.
/// </summary>
internal sealed class RequestTracer
{
    /// <summary>Records buffered for the writer before new ones are dropped.</summary>
    public const int Capacity = 8192;

    private readonly Channel<TraceRecord> _channel;
    private readonly ServerMetrics _metrics;
    private readonly bool _requests;
    private readonly bool _probes;
    private readonly bool _errorsOnly;
    private readonly int[] _statuses;

    public RequestTracer(SidekickOptions options, ServerMetrics metrics)
    {
        _metrics = metrics;
        Enabled = options.Trace != TraceMode.None && !options.Quiet;
        _requests = Enabled && options.Trace is TraceMode.All or TraceMode.Application;
        _probes = Enabled && options.Trace is TraceMode.All or TraceMode.MinIO;
        _errorsOnly = options.ErrorsOnly;
        _statuses = [.. options.StatusCodes];
        Debug = options.Debug;
        _channel = Channel.CreateBounded<TraceRecord>(new BoundedChannelOptions(Capacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails at once: we drop and count
            SingleReader = true,
            SingleWriter = false,
        });
    }

    /// <summary>False when nothing is ever traced: the request path then does no trace work at all.</summary>
    public bool Enabled { get; }

    /// <summary>--debug: records carry the headers.</summary>
    public bool Debug { get; }

    public ChannelReader<TraceRecord> Reader => _channel.Reader;

    /// <summary>
    /// Whether a record for this origin and status should be built. False when filtered out, or when the
    /// channel is full (then the drop is counted here, before anything is allocated).
    /// </summary>
    public bool Wants(TraceOrigin origin, int status)
    {
        if (!(origin == TraceOrigin.Application ? _requests : _probes))
        {
            return false;
        }

        if (_errorsOnly && status is < 400 or >= 600)
        {
            return false;
        }

        if (_statuses.Length > 0 && Array.IndexOf(_statuses, status) < 0)
        {
            return false;
        }

        if (_channel.Reader.Count >= Capacity)
        {
            _metrics.CountTraceDropped();
            return false;
        }

        return true;
    }

    /// <summary>Queues a record; never waits.</summary>
    public void Write(TraceRecord record)
    {
        if (!_channel.Writer.TryWrite(record))
        {
            _metrics.CountTraceDropped();
        }
    }

    /// <summary>No more records (server stopped): the reader drains what is left and ends.</summary>
    public void Complete() => _channel.Writer.TryComplete();
}
