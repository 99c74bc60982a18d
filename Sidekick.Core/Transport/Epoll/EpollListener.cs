using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Sidekick.Core.Transport.Epoll;

/// <summary>
/// Accepts plain TCP connections on an epoll loop: the listening socket is registered edge-triggered, and each edge
/// accepts with accept4(2) until the queue is empty, each new socket non-blocking from the start and handed over
/// without a runtime socket object or a hop through the runtime's own epoll thread. When the process is out of
/// descriptors (or memory), the queue is left as it is and tried again a little later instead of spinning.
/// </summary>
internal sealed unsafe class EpollListener : IEpollHandler
{
    private static readonly TimeSpan RetryAfter = TimeSpan.FromMilliseconds(100);

    private readonly SafeSocketHandle _handle;
    private readonly int _fd;
    private readonly EpollEngine _engine;
    private readonly Action<EpollSocket> _onAccepted;
    private readonly Action<string> _onError;
    private readonly Lock _retryLock = new();
    private Timer? _retry;
    private int _closed;
    private int _accepting; // accept runs in progress (the loop's edge, a retry)

    [ThreadStatic]
    private static EpollListener? t_accepting; // the listener whose hand-over this thread is running

    /// <summary>Starts accepting on <paramref name="listener"/> (bound and listening); <paramref name="onAccepted"/> takes each new socket.</summary>
    public EpollListener(Socket listener, Action<EpollSocket> onAccepted, Action<string> onError)
    {
        _handle = listener.SafeHandle;
        _fd = (int)_handle.DangerousGetHandle();
        _onAccepted = onAccepted;
        _onError = onError;
        var flags = Native.Fcntl(_fd, Native.F_GETFL, 0);
        if (flags < 0 || Native.Fcntl(_fd, Native.F_SETFL, flags | Native.O_NONBLOCK) < 0)
        {
            throw new SocketException((int)Native.ToSocketError(Marshal.GetLastPInvokeError()));
        }

        _engine = EpollEngine.Next();
        _engine.Register(this, _fd, Native.EPOLLIN | Native.EPOLLET);
    }

    /// <inheritdoc />
    public ulong Token { get; set; }

    /// <inheritdoc />
    public void OnEvents(uint events) => AcceptAll();

    /// <summary>
    /// Stops accepting (before the listening socket is closed). Returns once no accept is running, so no connection is
    /// handed over after it: a server that stops can count its connections (unless called from the hand-over itself).
    /// </summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _engine.Unregister(this, _fd);
        lock (_retryLock)
        {
            _retry?.Dispose();
            _retry = null;
        }

        if (t_accepting == this)
        {
            return; // called from this listener's own hand-over: waiting for it would wait for ever
        }

        // A hand-over takes microseconds; the bound only keeps a stuck callback from holding the stop for ever.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (Volatile.Read(ref _accepting) != 0 && waited.Elapsed < TimeSpan.FromSeconds(5))
        {
            Thread.Sleep(1);
        }
    }

    private void AcceptAll()
    {
        Interlocked.Increment(ref _accepting); // before the look at _closed: Close either is seen here or waits for this run
        var outer = t_accepting;
        t_accepting = this;
        try
        {
            AcceptQueued();
        }
        finally
        {
            t_accepting = outer;
            Interlocked.Decrement(ref _accepting);
        }
    }

    private void AcceptQueued()
    {
        var address = stackalloc byte[128];
        while (Volatile.Read(ref _closed) == 0)
        {
            var length = 128;
            int fd;
            var added = false;
            try
            {
                _handle.DangerousAddRef(ref added);
                fd = Native.Accept4(_fd, address, &length, Native.SOCK_NONBLOCK | Native.SOCK_CLOEXEC);
            }
            catch (ObjectDisposedException)
            {
                return; // the listener closed
            }
            finally
            {
                if (added)
                {
                    _handle.DangerousRelease();
                }
            }

            if (fd < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Native.EAGAIN)
                {
                    return; // the queue is empty: the next connection is an edge
                }

                if (errno is Native.EMFILE or Native.ENFILE or Native.ENOBUFS or Native.ENOMEM)
                {
                    _onError($"accept: {new SocketException((int)Native.ToSocketError(errno)).Message} (errno {errno}); retrying in {RetryAfter.TotalMilliseconds} ms");
                    ScheduleRetry();
                    return;
                }

                if (errno is Native.EINTR or Native.ECONNABORTED or Native.EPROTO or Native.ETIMEDOUT or Native.ECONNREFUSED
                    or Native.EHOSTUNREACH or Native.ENETUNREACH or Native.ECONNRESET)
                {
                    continue; // EINTR, ECONNABORTED, EPROTO and network errors of that connection: the next one may be fine
                }

                _onError($"accept: errno {errno}; retrying in {RetryAfter.TotalMilliseconds} ms");
                ScheduleRetry(); // anything else: do not spin on the loop's thread
                return;
            }

            var handle = new DescriptorHandle(fd);
            EpollSocket socket;
            try
            {
                socket = new EpollSocket(handle, address, length);
            }
            catch (SocketException)
            {
                handle.Dispose();
                continue;
            }

            try
            {
                _onAccepted(socket);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // The peer reset before the connection was set up: drop it, keep emptying the queue.
                socket.Close();
                socket.Dispose();
            }
        }
    }

    private void RetryAccept()
    {
        try
        {
            AcceptAll();
        }
        catch (Exception ex)
        {
            // A timer thread must not end the process: report, and try again later.
            _onError($"accept: {ex.Message}; retrying in {RetryAfter.TotalMilliseconds} ms");
            ScheduleRetry();
        }
    }

    private void ScheduleRetry()
    {
        lock (_retryLock)
        {
            if (Volatile.Read(ref _closed) != 0)
            {
                return;
            }

            _retry ??= new Timer(static s => ((EpollListener)s!).RetryAccept(), this, Timeout.Infinite, Timeout.Infinite);
            _retry.Change(RetryAfter, Timeout.InfiniteTimeSpan);
        }
    }
}
