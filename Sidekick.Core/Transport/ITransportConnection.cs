using System.Buffers;
using System.IO.Pipelines;
using System.Net;

namespace Sidekick.Core.Transport;

/// <summary>
/// A socket seen as a pair of pipes. The engine only ever talks to this interface, so the transport
/// (a hand-rolled SocketAsyncEventArgs transport, or a TLS stream) can be replaced by a hand-rolled one without touching the proxy.
/// </summary>
internal interface ITransportConnection : IDuplexPipe, IDisposable
{
    /// <summary>The remote end point.</summary>
    EndPoint? RemoteEndPoint { get; }

    /// <summary>
    /// Ends the connection with a reset (RST) rather than a FIN, so the peer cannot mistake a truncated
    /// response for a complete one (DESIGN: "the response had started: abort the client connection").
    /// </summary>
    void Abort();

    /// <summary>
    /// From any thread: arms a reset and shuts the connection down, which wakes whatever waits on it (a read sees the
    /// end, a send fails); the owner then ends and disposes it on its own thread. Nothing is released here.
    /// </summary>
    void Interrupt();

    /// <summary>
    /// A send is still in flight (one that found the socket buffer full after its flush had completed: write-behind), or
    /// one failed unreported: a pooled backend connection in that state is not reused.
    /// </summary>
    bool OutputPending { get; }

    /// <summary>
    /// Completes once everything written before the output was completed has been handed to the kernel (or sending
    /// failed). A plain socket's completion already waits for that; a TLS connection's send pump may still be
    /// encrypting and sending after it, and closing before the pump ends would cut the response short.
    /// </summary>
    Task OutputDone { get; }

    /// <summary>
    /// Queues <paramref name="data"/> for the next flush of <see cref="IDuplexPipe.Output"/> without copying it, when
    /// this transport can (a plain socket's gather write); the caller leaves the memory unchanged, and does not give it
    /// back to a pool, until that flush has completed, and treats a cancelled flush as the end of the connection (its
    /// queued data is dropped). False: nothing was queued, the caller writes (copies) the data itself.
    /// <paramref name="moreFollows"/>: more of the same message is on its way at once (the flush may leave its last,
    /// partial packet for the kernel to fill from the next write: MSG_MORE).
    /// </summary>
    bool TryWriteBorrowed(in ReadOnlySequence<byte> data, bool moreFollows = false);
}
