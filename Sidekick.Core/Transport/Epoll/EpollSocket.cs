using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Sidekick.Core.Transport.Epoll;

/// <summary>
/// One socket on an <see cref="EpollEngine"/>: a wait for data, a receive that never waits, a gather send and a
/// connect, each awaited without allocating, at most one wait and one send in flight. Readiness is tracked by
/// sequence numbers: the loop bumps a direction's sequence on every edge, and a system call that found the socket
/// drained (a short read, EAGAIN, a short write) records the sequence it saw; the call is tried again only once the
/// sequence has moved, so a drained socket costs no system call. An operation parks by setting a flag the loop takes
/// with an exchange; whoever takes it completes the operation, so the loop, <see cref="Close"/> and the parking thread
/// never complete one twice. A socket leaves the epoll set with its close(2), without an EPOLL_CTL_DEL.
/// </summary>
internal sealed class EpollSocket : SocketIo, IEpollHandler, IValueTaskSource<int>
{
    private const int MaxIoVecs = 16;

    private readonly SafeHandle _handle;
    private readonly int _fd;
    private readonly EpollEngine _engine;
    private readonly SendSide _send;

    // Receive side.
    // A new socket counts as drained: registering it reports data already there as an edge, so the first wait for
    // data parks without a buffer instead of trying a receive that would park holding one (4 KiB per idle connection).
    private int _readSeq = 1;
    private int _readDrainedAt = 1;
    private int _readParked;
    private int _peerClosed; // the peer sent FIN or the socket failed: read until recv says so, not until a short read
    private ManualResetValueTaskSourceCore<int> _read; // continuations inline

    // Send side.
    private int _writeSeq = 1;
    private int _writeBlockedAt;
    private int _writeParked;
    private List<ArraySegment<byte>>? _blocks; // the send in flight; null while a connect waits
    private bool _outgoing; // connected by us (to a backend): its write-behind sends go first
    private int _sendFlags;
    private int _blockIndex;
    private int _blockOffset;
    private int _sent;

    private int _closed;

    // The peer: an end point the runtime made, or the address accept4 returned (made into one only when asked).
    private EndPoint? _remote;
    private Socket? _owner; // the runtime's socket object, when there is one: kept alive (its finalizer would close the descriptor) and disposed with this
    private ulong _peerLow;
    private ulong _peerHigh;
    private uint _peerScope;
    private ushort _peerPort;
    private ushort _peerFamily;

    /// <summary>Puts an accepted (or connected) socket on a loop.</summary>
    public EpollSocket(Socket socket)
        : this(socket.SafeHandle, connecting: false)
    {
        _owner = socket;
        _remote = socket.RemoteEndPoint;
    }

    /// <summary>Puts a socket that <see cref="EpollListener"/> accepted (already non-blocking) on a loop.</summary>
    public unsafe EpollSocket(DescriptorHandle handle, byte* address, int length)
        : this(handle, connecting: false, nonBlocking: true)
    {
        var family = *(ushort*)address;
        if (family == Native.AF_INET && length >= 8)
        {
            _peerFamily = Native.AF_INET;
            _peerLow = *(uint*)(address + 4);
        }
        else if (family == Native.AF_INET6 && length >= 28)
        {
            _peerFamily = Native.AF_INET6;
            _peerLow = *(ulong*)(address + 8);
            _peerHigh = *(ulong*)(address + 16);
            _peerScope = *(uint*)(address + 24);
        }

        _peerPort = (ushort)((address[2] << 8) | address[3]);
    }

    private EpollSocket(SafeHandle handle, bool connecting, bool nonBlocking = false)
    {
        _handle = handle;
        _fd = (int)_handle.DangerousGetHandle();
        if (!nonBlocking)
        {
            SetNonBlocking(_fd);
        }

        if (connecting)
        {
            _writeBlockedAt = _writeSeq; // not writable until the handshake ends: its outcome comes as a write edge
        }

        _send = new SendSide();
        _engine = EpollEngine.Next();
        _engine.Register(this, _fd);
    }

    /// <summary>
    /// Connects <paramref name="socket"/> without blocking and returns it on a loop. connect(2) comes first and the
    /// registration after it: a socket registered before its connect reports the unconnected state (HUP) as an edge,
    /// which must not be taken for the handshake's end. The handshake's outcome is the next write edge (or the state
    /// at registration, which epoll reports as one); SO_ERROR says how it ended.
    /// </summary>
    public static async ValueTask<EpollSocket> ConnectAsync(Socket socket, IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        var fd = (int)socket.SafeHandle.DangerousGetHandle();
        SetNonBlocking(fd);
        var errno = StartConnect(socket.SafeHandle, fd, endPoint);
        if (errno == 0)
        {
            return new EpollSocket(socket.SafeHandle, connecting: false, nonBlocking: true) { _owner = socket, _remote = endPoint, _outgoing = true };
        }

        if (errno != Native.EINPROGRESS)
        {
            throw new SocketException((int)Native.ToSocketError(errno));
        }

        var io = new EpollSocket(socket.SafeHandle, connecting: true, nonBlocking: true) { _owner = socket, _remote = endPoint, _outgoing = true };
        try
        {
            for (var spurious = 0; ; spurious++)
            {
                if (!io.WritableOrPark(out var error))
                {
                    using (cancellationToken.UnsafeRegister(static s => ((EpollSocket)s!).CancelParkedWait(), io))
                    {
                        await new ValueTask<int>(io._send, io._send.Source.Version).ConfigureAwait(false);
                    }
                }
                else if (error != SocketError.Success)
                {
                    throw new SocketException((int)error);
                }

                var seq = Volatile.Read(ref io._writeSeq);
                if (io.ConnectOutcome(out error))
                {
                    if (error != SocketError.Success)
                    {
                        throw new SocketException((int)error);
                    }

                    return io;
                }

                // An edge that did not end the handshake (bounded: a handshake ends or the caller's timeout fires).
                io._writeBlockedAt = seq;
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        catch
        {
            io.Close();
            throw;
        }
    }

    /// <summary>connect(2) on the non-blocking socket: 0, or the errno (EINPROGRESS: the handshake is under way).</summary>
    private static unsafe int StartConnect(SafeSocketHandle handle, int fd, IPEndPoint endPoint)
    {
        var address = endPoint.Serialize();
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            fixed (byte* p = address.Buffer.Span)
            {
                while (true)
                {
                    if (Native.Connect(fd, p, address.Size) == 0)
                    {
                        return 0;
                    }

                    var errno = Marshal.GetLastPInvokeError();
                    if (errno != Native.EINTR)
                    {
                        return errno;
                    }
                }
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>True when the handshake has ended: <paramref name="error"/> says how (SO_ERROR, then getpeername).</summary>
    private unsafe bool ConnectOutcome(out SocketError error)
    {
        if (!TryAddRef(out var added))
        {
            error = SocketError.OperationAborted;
            return true;
        }

        try
        {
            int value = 0;
            var length = sizeof(int);
            if (Native.GetSockOpt(_fd, Native.SOL_SOCKET, Native.SO_ERROR, &value, &length) != 0)
            {
                error = Native.ToSocketError(Marshal.GetLastPInvokeError());
                return true;
            }

            if (value != 0)
            {
                error = Native.ToSocketError(value);
                return true;
            }

            var peer = stackalloc byte[128];
            var peerLength = 128;
            error = SocketError.Success;
            return Native.GetPeerName(_fd, peer, &peerLength) == 0; // ENOTCONN: still connecting
        }
        finally
        {
            Release(added);
        }
    }

    /// <summary>
    /// O_NONBLOCK with fcntl rather than Socket.Blocking, which would also give the socket the runtime's async context
    /// (about 250 bytes per connection that this engine never uses).
    /// </summary>
    private static void SetNonBlocking(int fd)
    {
        var flags = Native.Fcntl(fd, Native.F_GETFL, 0);
        if (flags < 0 || Native.Fcntl(fd, Native.F_SETFL, flags | Native.O_NONBLOCK) < 0)
        {
            throw new SocketException((int)Native.ToSocketError(Marshal.GetLastPInvokeError()));
        }
    }

    /// <inheritdoc />
    public ulong Token { get; set; }

    /// <inheritdoc />
    public override unsafe EndPoint? RemoteEndPoint
    {
        get
        {
            if (_remote is not null || _peerFamily == 0)
            {
                return _remote;
            }

            var bytes = stackalloc byte[16];
            *(ulong*)bytes = _peerLow;
            *(ulong*)(bytes + 8) = _peerHigh;
            var address = _peerFamily == Native.AF_INET
                ? new IPAddress(new ReadOnlySpan<byte>(bytes, 4))
                : new IPAddress(new ReadOnlySpan<byte>(bytes, 16), _peerScope);
            return new IPEndPoint(address, _peerPort);
        }
    }

    /// <inheritdoc />
    public override unsafe void SetNoDelay()
    {
        var on = 1;
        SetOption(Native.IPPROTO_TCP, Native.TCP_NODELAY, &on, sizeof(int));
    }

    /// <inheritdoc />
    public override void ShutdownSend()
    {
        var added = AddRef();
        try
        {
            ThrowOnError(Native.Shutdown(_fd, Native.SHUT_WR));
        }
        finally
        {
            Release(added);
        }
    }

    /// <inheritdoc />
    protected override void ResetNow()
    {
        if (!TryAddRef(out var added))
        {
            return; // already closed
        }

        try
        {
            // The socket's own events (HUP, ERR) wake its waits. shutdown(2) is what is left when the disconnect
            // fails (it sends a FIN before the close's reset).
            if (!Native.Disconnect(_fd))
            {
                _ = Native.Shutdown(_fd, Native.SHUT_RDWR);
            }
        }
        finally
        {
            Release(added);
        }
    }

    /// <inheritdoc />
    public override unsafe void ArmReset()
    {
        var linger = stackalloc int[2] { 1, 0 }; // struct linger { l_onoff = 1, l_linger = 0 }
        try
        {
            SetOption(Native.SOL_SOCKET, Native.SO_LINGER, linger, 2 * sizeof(int));
        }
        catch (SocketException)
        {
            // Already gone: nothing to reset.
        }
    }

    private unsafe void SetOption(int level, int name, void* value, int length)
    {
        var added = AddRef();
        try
        {
            ThrowOnError(Native.SetSockOpt(_fd, level, name, value, length));
        }
        finally
        {
            Release(added);
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        if (_owner is { } socket)
        {
            socket.Dispose();
        }
        else
        {
            _handle.Dispose();
        }
    }

    /// <summary>Keeps the descriptor open (not reused) for a call; false when the socket is already closed.</summary>
    private bool TryAddRef(out bool added)
    {
        added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>The same, a closed socket failing as an aborted operation.</summary>
    private bool AddRef() =>
        TryAddRef(out var added) ? added : throw new SocketException((int)SocketError.OperationAborted);

    private void Release(bool added)
    {
        if (added)
        {
            _handle.DangerousRelease();
        }
    }

    private static void ThrowOnError(int result)
    {
        if (result != 0)
        {
            throw new SocketException((int)Native.ToSocketError(Marshal.GetLastPInvokeError()));
        }
    }

    /// <inheritdoc />
    /// <remarks>No system call: it parks until the next edge, or returns at once when one came since the socket drained.</remarks>
    public override ValueTask<int> WaitReadableAsync()
    {
        _read.Reset();
        if (ReadableOrPark(out var error))
        {
            return error == SocketError.Success ? new ValueTask<int>(0)
                : error == SocketError.OperationAborted ? new ValueTask<int>(-1) // closed
                : ValueTask.FromException<int>(new SocketException((int)error));
        }

        return new ValueTask<int>(this, _read.Version);
    }

    /// <inheritdoc />
    /// <remarks>No system call when the socket drained and no edge came since.</remarks>
    public override int TryReceive(Span<byte> buffer, out SocketError error)
    {
        while (true)
        {
            var seq = Volatile.Read(ref _readSeq);
            if (seq == _readDrainedAt)
            {
                error = SocketError.WouldBlock;
                return -1;
            }

            var n = Receive(buffer, out var errno);
            if (n >= 0)
            {
                if (n > 0 && n < buffer.Length && Volatile.Read(ref _peerClosed) == 0)
                {
                    _readDrainedAt = seq; // a short read took everything there was (a FIN comes as an edge of its own)
                }

                error = SocketError.Success;
                return (int)n;
            }

            if (errno == Native.EAGAIN)
            {
                _readDrainedAt = seq; // and look again: an edge may have come in meanwhile
            }
            else if (errno != Native.EINTR)
            {
                error = Native.ToSocketError(errno);
                return -1;
            }
        }
    }

    /// <inheritdoc />
    public override ValueTask<int> SendAsync(List<ArraySegment<byte>> blocks, bool moreFollows = false)
    {
        _send.Source.Reset();
        _blocks = blocks;
        _sendFlags = moreFollows ? Native.MSG_NOSIGNAL | Native.MSG_MORE : Native.MSG_NOSIGNAL;
        _blockIndex = 0;
        _blockOffset = 0;
        _sent = 0;
        if (TrySendOrPark(out var error))
        {
            _blocks = null;
            return error == SocketError.Success ? new ValueTask<int>(_sent) : ValueTask.FromException<int>(new SocketException((int)error));
        }

        return new ValueTask<int>(_send, _send.Source.Version);
    }

    /// <inheritdoc />
    public override bool CanSendLater => _engine.WritesBehind && Volatile.Read(ref _closed) == 0;

    /// <inheritdoc />
    public override void SendLater(Action<object?> send, object state) => _engine.SendAtEndOfIteration(send, state, _outgoing);

    /// <inheritdoc />
    public override void OnWaitCompleted(Action<object?> callback, object state) =>
        _read.OnCompleted(callback, state, _read.Version, ValueTaskSourceOnCompletedFlags.None);

    /// <inheritdoc />
    public override void OnSendCompleted(Action<object?> callback, object state) =>
        _send.Source.OnCompleted(callback, state, _send.Source.Version, ValueTaskSourceOnCompletedFlags.None);

    /// <inheritdoc />
    /// <remarks>
    /// Leaves the loop, ends a parked wait for data (with -1) and fails a parked send. The descriptor leaves the epoll
    /// set when it is closed next (by <see cref="Dispose"/>, or by the owner's socket when a connect failed), without a
    /// system call of its own.
    /// </remarks>
    public override void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _engine.Forget(this);
        if (Interlocked.Exchange(ref _readParked, 0) == 1)
        {
            _read.SetResult(-1); // closed: see WaitReadableAsync
        }

        if (Interlocked.Exchange(ref _writeParked, 0) == 1)
        {
            _blocks = null;
            _send.Source.SetException(new SocketException((int)SocketError.OperationAborted));
        }
    }

    /// <inheritdoc />
    public void OnEvents(uint events)
    {
        if ((events & (Native.EPOLLRDHUP | Native.EPOLLHUP | Native.EPOLLERR)) != 0)
        {
            Volatile.Write(ref _peerClosed, 1);
        }

        if ((events & (Native.EPOLLIN | Native.EPOLLRDHUP | Native.EPOLLHUP | Native.EPOLLERR)) != 0)
        {
            Interlocked.Increment(ref _readSeq);
            if (Interlocked.Exchange(ref _readParked, 0) == 1)
            {
                _read.SetResult(0); // the waiter receives (a spurious edge costs it one EAGAIN)
            }
        }

        if ((events & (Native.EPOLLOUT | Native.EPOLLHUP | Native.EPOLLERR)) != 0)
        {
            Interlocked.Increment(ref _writeSeq);
            if (Interlocked.Exchange(ref _writeParked, 0) == 1)
            {
                if (_blocks is null)
                {
                    _send.Source.SetResult(0); // the wait for a connect
                }
                else if (TrySendOrPark(out var error))
                {
                    _blocks = null;
                    if (error == SocketError.Success)
                    {
                        _send.Source.SetResult(_sent);
                    }
                    else
                    {
                        _send.Source.SetException(new SocketException((int)error));
                    }
                }
            }
        }
    }

    private void CancelParkedWait()
    {
        if (Interlocked.Exchange(ref _writeParked, 0) == 1)
        {
            _send.Source.SetException(new OperationCanceledException());
        }
    }

    /// <summary>For a connect: true when a write edge came since the last look (or the socket closed: <paramref name="error"/>); false when parked.</summary>
    private bool WritableOrPark(out SocketError error)
    {
        _send.Source.Reset();
        return ReadyOrPark(ref _writeSeq, ref _writeBlockedAt, ref _writeParked, out error);
    }

    /// <summary>True when the socket may be readable (or the wait failed: <paramref name="error"/>); false when parked.</summary>
    private bool ReadableOrPark(out SocketError error) => ReadyOrPark(ref _readSeq, ref _readDrainedAt, ref _readParked, out error);

    /// <summary>
    /// True when a direction's sequence moved past where it was last found drained (or the socket closed:
    /// <paramref name="error"/>); otherwise parks and returns false, and the loop or <see cref="Close"/> completes it.
    /// </summary>
    private bool ReadyOrPark(ref int sequence, ref int drainedAt, ref int parked, out SocketError error)
    {
        while (true)
        {
            var seq = Volatile.Read(ref sequence);
            if (seq != drainedAt)
            {
                error = SocketError.Success;
                return true;
            }

            // Park, then look again: an edge between the check and the park must not be lost.
            Interlocked.Exchange(ref parked, 1);
            if (Volatile.Read(ref sequence) == seq && Volatile.Read(ref _closed) == 0)
            {
                error = SocketError.Success;
                return false;
            }

            if (Interlocked.Exchange(ref parked, 0) == 0)
            {
                error = SocketError.Success;
                return false; // the loop or Close took it
            }

            if (Volatile.Read(ref _closed) != 0)
            {
                error = SocketError.OperationAborted;
                return true;
            }
        }
    }

    /// <summary>Sends what is left, or parks when the socket buffer is full. True when the operation ended.</summary>
    private bool TrySendOrPark(out SocketError error)
    {
        while (true)
        {
            var seq = Volatile.Read(ref _writeSeq);
            if (seq != _writeBlockedAt)
            {
                var n = SendSome(out var errno, out var asked);
                if (n >= 0)
                {
                    if (_blockIndex == _blocks!.Count)
                    {
                        error = SocketError.Success;
                        return true;
                    }

                    if (n < asked)
                    {
                        _writeBlockedAt = seq; // a short write: the socket buffer is full
                    }

                    continue;
                }

                if (errno == Native.EINTR)
                {
                    continue;
                }

                if (errno != Native.EAGAIN)
                {
                    error = Native.ToSocketError(errno);
                    return true;
                }

                _writeBlockedAt = seq;
                continue;
            }

            Interlocked.Exchange(ref _writeParked, 1);
            if (Volatile.Read(ref _writeSeq) != seq || Volatile.Read(ref _closed) != 0)
            {
                if (Interlocked.Exchange(ref _writeParked, 0) == 0)
                {
                    error = SocketError.Success;
                    return false;
                }

                if (Volatile.Read(ref _closed) != 0)
                {
                    error = SocketError.OperationAborted;
                    return true;
                }

                continue;
            }

            error = SocketError.Success;
            return false;
        }
    }

    private unsafe nint Receive(Span<byte> buffer, out int errno)
    {
        if (!TryAddRef(out var added))
        {
            errno = Native.EBADF; // closed
            return -1;
        }

        try
        {
            nint n;
            fixed (byte* p = buffer)
            {
                n = Native.Recv(_fd, p, (nuint)buffer.Length, 0);
            }

            errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
            return n;
        }
        finally
        {
            Release(added);
        }
    }

    /// <summary>One send or writev of what is left of the blocks; advances the position by what the kernel took.</summary>
    private unsafe nint SendSome(out int errno, out nint asked)
    {
        var blocks = _blocks!;
        asked = 0;
        if (!TryAddRef(out var added))
        {
            errno = Native.EBADF; // closed
            return -1;
        }

        var pins = stackalloc GCHandle[MaxIoVecs];
        var count = 0;
        try
        {
            nint n;
            if (blocks.Count - _blockIndex == 1)
            {
                var block = blocks[_blockIndex];
                asked = block.Count - _blockOffset;
                fixed (byte* p = block.AsSpan(_blockOffset))
                {
                    n = Native.Send(_fd, p, (nuint)asked, _sendFlags);
                }
            }
            else
            {
                var iov = stackalloc Native.IoVec[MaxIoVecs];
                for (var i = _blockIndex; i < blocks.Count && count < MaxIoVecs; i++, count++)
                {
                    var block = blocks[i];
                    var offset = i == _blockIndex ? _blockOffset : 0;
                    pins[count] = GCHandle.Alloc(block.Array, GCHandleType.Pinned);
                    iov[count].Base = (byte*)pins[count].AddrOfPinnedObject() + block.Offset + offset;
                    iov[count].Length = (nuint)(block.Count - offset);
                    asked += block.Count - offset;
                }

                if ((_sendFlags & Native.MSG_MORE) != 0)
                {
                    var message = default(Native.MsgHdr);
                    message.Iov = iov;
                    message.IovLength = (nuint)count;
                    n = Native.SendMsg(_fd, &message, _sendFlags);
                }
                else
                {
                    n = Native.Writev(_fd, iov, count);
                }
            }

            errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
            if (n > 0)
            {
                Advance((int)n);
            }

            return n;
        }
        finally
        {
            for (var i = 0; i < count; i++)
            {
                pins[i].Free();
            }

            Release(added);
        }
    }

    private void Advance(int n)
    {
        _sent += n;
        var blocks = _blocks!;
        while (n > 0)
        {
            var left = blocks[_blockIndex].Count - _blockOffset;
            if (n < left)
            {
                _blockOffset += n;
                return;
            }

            n -= left;
            _blockIndex++;
            _blockOffset = 0;
        }

        // Skip empty blocks so that "all sent" is _blockIndex == Count.
        while (_blockIndex < blocks.Count && blocks[_blockIndex].Count == 0)
        {
            _blockIndex++;
        }
    }

    int IValueTaskSource<int>.GetResult(short token) => _read.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _read.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _read.OnCompleted(continuation, state, token, flags);

    /// <summary>The send side's value-task source (a class may implement IValueTaskSource&lt;int&gt; only once).</summary>
    private sealed class SendSide : IValueTaskSource<int>
    {
        public ManualResetValueTaskSourceCore<int> Source;

        int IValueTaskSource<int>.GetResult(short token) => Source.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => Source.GetStatus(token);

        void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            Source.OnCompleted(continuation, state, token, flags);
    }
}
