using System.Runtime.InteropServices;

namespace Sidekick.Core.Transport.Epoll;

/// <summary>
/// A socket descriptor the epoll loop accepted, closed with a plain close(2). A SafeSocketHandle disposed on its own
/// (without its Socket) closes abortively on Linux: a zero linger, so the close sends RST and drops whatever the
/// kernel had not yet sent, which cut the tail off responses on connections that closed after them.
/// </summary>
internal sealed class DescriptorHandle : SafeHandle
{
    public DescriptorHandle(int fd, bool ownsHandle = true)
        : base(new IntPtr(-1), ownsHandle) => SetHandle(fd);

    public override bool IsInvalid => handle == new IntPtr(-1);

    protected override bool ReleaseHandle() => Native.Close((int)handle) == 0;
}
