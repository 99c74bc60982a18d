using System.IO.Pipelines;
using Sidekick.Core.Transport;

namespace Sidekick.Core.Upstream;

/// <summary>A connection to a backend, owned by one request at a time, or idle in its pool.</summary>
internal sealed class UpstreamConnection(ITransportConnection transport, UpstreamPool pool) : IDisposable
{
    public ITransportConnection Transport { get; } = transport;

    /// <summary>The pool this connection returns to.</summary>
    public UpstreamPool Pool { get; } = pool;

    public PipeReader Input => Transport.Input;

    public PipeWriter Output => Transport.Output;

    /// <summary>True when this connection already carried a request (a failure on it may be a stale keep-alive).</summary>
    public bool Reused { get; set; }

    /// <summary>Timestamp (TimeProvider) when it went idle.</summary>
    public long IdleSince { get; set; }

    /// <summary>
    /// Checks an idle connection before reuse: the backend may have closed it (EOF) or sent something
    /// unsolicited (garbage or a late response). Either way it must not carry a request.
    /// </summary>
    public bool LooksHealthy()
    {
        if (Transport.OutputPending)
        {
            return false; // the last request's end never left (the backend stopped reading), or failed
        }

        ReadResult result;
        try
        {
            if (!Input.TryRead(out result))
            {
                return true; // nothing buffered, not completed: the normal idle state
            }
        }
        catch (Exception ex) when (TransportErrors.IsIoFailure(ex))
        {
            return false; // reset while idle (the transport completed the pipe with the error)
        }

        var ok = result.Buffer.IsEmpty && !result.IsCompleted && !result.IsCanceled;
        Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        return ok;
    }

    public void Dispose() => Transport.Dispose();
}
