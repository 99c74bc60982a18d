using System.Net.Sockets;

namespace Sidekick.Core.Transport;

/// <summary>Both transports abort the same way: a zero linger makes the close send RST instead of FIN.</summary>
internal static class SocketReset
{
    /// <summary>Arms <paramref name="socket"/> so that disposing it resets the connection.</summary>
    public static void Arm(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed: nothing to reset.
        }
    }
}
