using System.Net.Sockets;

namespace Sidekick.Core.Transport;

/// <summary>What a transport's pipes throw when the connection fails or is closed under them.</summary>
internal static class TransportErrors
{
    /// <summary>
    /// True for a failed or closed connection: a socket error (the socket transport completes its input pipe with
    /// the <see cref="SocketException"/> itself), an I/O error (the TLS transport), a use after close, or a pipe
    /// completed under its reader or writer. Cancellation is not included: callers decide what it means.
    /// </summary>
    public static bool IsIoFailure(Exception ex) =>
        ex is SocketException or IOException or ObjectDisposedException or InvalidOperationException;
}
