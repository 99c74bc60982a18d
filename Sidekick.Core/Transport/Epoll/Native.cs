using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Sidekick.Core.Transport.Epoll;

/// <summary>The Linux system calls the epoll engine makes, and errno to <see cref="SocketError"/>.</summary>
internal static unsafe partial class Native
{
    public const int EPOLLIN = 0x001;
    public const int EPOLLOUT = 0x004;
    public const int EPOLLERR = 0x008;
    public const int EPOLLHUP = 0x010;
    public const int EPOLLRDHUP = 0x2000;
    public const uint EPOLLET = 0x80000000;

    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CLOEXEC = 0x80000;

    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int EINPROGRESS = 115;
    public const int ENOMEM = 12;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int ENOBUFS = 105;
    public const int EPROTO = 71;
    public const int EPIPE = 32;
    public const int ENETDOWN = 100;
    public const int ENETUNREACH = 101;
    public const int ENOTCONN = 107;
    public const int ECONNABORTED = 103;
    public const int ECONNRESET = 104;
    public const int ETIMEDOUT = 110;
    public const int ECONNREFUSED = 111;
    public const int EHOSTUNREACH = 113;

    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SHUT_WR = 1;
    public const int SHUT_RDWR = 2;
    public const int IPPROTO_TCP = 6;
    public const int TCP_NODELAY = 1;
    public const int TCP_QUICKACK = 12;
    public const int SO_LINGER = 13;
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;

    public const int MSG_NOSIGNAL = 0x4000;
    public const int MSG_MORE = 0x8000;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int O_NONBLOCK = 0x800;
    public const int SOL_SOCKET = 1;
    public const int SO_ERROR = 4;

    /// <summary>epoll_event is packed (12 bytes) on x86-64 and naturally aligned (16 bytes) elsewhere.</summary>
    public static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    /// <summary>Offset of the 64-bit data word in an epoll_event.</summary>
    public static readonly int EventDataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollCtl(int epfd, int op, int fd, byte* ev);

    // The calls of the data path go to the kernel through syscall(2) on x86-64. glibc's epoll_wait, recv, send,
    // sendmsg and writev are cancellation points: in a process with more than one thread (a .NET process always has
    // several) each switches asynchronous cancellation on before the system call and off after it, two atomic
    // read-modify-writes per call (1.2% of sidekick's samples at 64 connections; haproxy, single-threaded, skips them).
    // syscall(2) is a plain trampoline that sets errno as they do. Other architectures call the libc functions.
    private static readonly bool Direct = RuntimeInformation.ProcessArchitecture == Architecture.X64;

    private const nint SysWritev = 20; // x86-64 system call numbers
    private const nint SysSendTo = 44;
    private const nint SysRecvFrom = 45;
    private const nint SysSendMsg = 46;
    private const nint SysEpollWait = 232;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial nint Syscall(nint number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);

    public static int EpollWait(int epfd, byte* events, int maxEvents, int timeout) =>
        Direct ? (int)Syscall(SysEpollWait, epfd, (nint)events, maxEvents, timeout, 0, 0) : LibcEpollWait(epfd, events, maxEvents, timeout);

    public static nint Recv(int fd, byte* buffer, nuint length, int flags) =>
        Direct ? Syscall(SysRecvFrom, fd, (nint)buffer, (nint)length, flags, 0, 0) : LibcRecv(fd, buffer, length, flags);

    public static nint Send(int fd, byte* buffer, nuint length, int flags) =>
        Direct ? Syscall(SysSendTo, fd, (nint)buffer, (nint)length, flags, 0, 0) : LibcSend(fd, buffer, length, flags);

    public static nint SendMsg(int fd, MsgHdr* message, int flags) =>
        Direct ? Syscall(SysSendMsg, fd, (nint)message, flags, 0, 0, 0) : LibcSendMsg(fd, message, flags);

    public static nint Writev(int fd, IoVec* iov, int count) =>
        Direct ? Syscall(SysWritev, fd, (nint)iov, count, 0, 0, 0) : LibcWritev(fd, iov, count);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int LibcEpollWait(int epfd, byte* events, int maxEvents, int timeout);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint LibcRecv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint LibcSend(int fd, byte* buffer, nuint length, int flags);

    /// <summary>struct msghdr (x86-64 and arm64 layout), for a gather send with flags.</summary>
    public struct MsgHdr
    {
        public void* Name;
        public nuint NameLength; // socklen_t and padding
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public nint Flags; // int and padding
    }

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint LibcSendMsg(int fd, MsgHdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "writev", SetLastError = true)]
    private static partial nint LibcWritev(int fd, IoVec* iov, int count);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    public static partial int Accept4(int fd, byte* address, int* length, int flags);

    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", EntryPoint = "connect", SetLastError = true)]
    public static partial int Connect(int fd, byte* address, int length);

    /// <summary>
    /// Drops a TCP connection at once from any thread: connect(2) to an AF_UNSPEC address disconnects the socket
    /// (tcp_disconnect), which sends a reset to the peer and wakes every wait on it with an error. Unlike
    /// shutdown(2) it sends no FIN first, so the peer cannot read the end of a truncated message as its end.
    /// Linux only; true when it worked.
    /// </summary>
    public static bool Disconnect(int fd)
    {
        var unspecified = stackalloc byte[16]; // sa_family = AF_UNSPEC (0)
        new Span<byte>(unspecified, 16).Clear();
        return Connect(fd, unspecified, 16) == 0;
    }

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSockOpt(int fd, int level, int name, int* value, int* length);

    [LibraryImport("libc", EntryPoint = "getpeername", SetLastError = true)]
    public static partial int GetPeerName(int fd, byte* address, int* length);

    /// <summary>The .NET name of a Linux errno, as SocketException reports it.</summary>
    public static SocketError ToSocketError(int errno) => errno switch
    {
        EAGAIN => SocketError.WouldBlock,
        EINPROGRESS => SocketError.InProgress,
        EBADF => SocketError.OperationAborted,     // closed under us
        EPIPE => SocketError.Shutdown,
        ENETDOWN => SocketError.NetworkDown,
        ENETUNREACH => SocketError.NetworkUnreachable,
        ECONNABORTED => SocketError.ConnectionAborted,
        ECONNRESET => SocketError.ConnectionReset,
        ENOBUFS => SocketError.NoBufferSpaceAvailable,
        ENOTCONN => SocketError.NotConnected,
        ETIMEDOUT => SocketError.TimedOut,
        ECONNREFUSED => SocketError.ConnectionRefused,
        EHOSTUNREACH => SocketError.HostUnreachable,
        _ => SocketError.SocketError,
    };
}
