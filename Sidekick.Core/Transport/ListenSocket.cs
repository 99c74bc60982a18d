using System.Net.Sockets;

namespace Sidekick.Core.Transport;

/// <summary>Options for sidekick's listening sockets (the proxy's and --pprof's).</summary>
internal static class ListenSocket
{
    /// <summary>
    /// SO_REUSEADDR alone, as Go's listeners set it: a restarted sidekick binds its port while connections of the one
    /// before still wait in TIME_WAIT. Not the runtime's ReuseAddress option: on Linux and macOS it sets SO_REUSEPORT
    /// as well, which let a second sidekick (or --pprof given the proxy's address) bind the same port without an
    /// error and take about half of its connections. On Windows nothing is set (SO_REUSEADDR there lets another
    /// socket take the port over; the default already binds across TIME_WAIT).
    /// </summary>
    public static void ReuseAddressOnly(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (OperatingSystem.IsLinux())
        {
            socket.SetRawSocketOption(1 /* SOL_SOCKET */, 2 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        }
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
        {
            socket.SetRawSocketOption(0xffff /* SOL_SOCKET */, 0x4 /* SO_REUSEADDR */, BitConverter.GetBytes(1));
        }
    }
}
