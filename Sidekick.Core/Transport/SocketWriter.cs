using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Sidekick.Http1;

namespace Sidekick.Core.Transport;

/// <summary>
/// The output half of <see cref="SocketTransport"/>: a PipeWriter that buffers writes in pooled 4 KiB blocks and
/// sends them on <see cref="FlushAsync"/>, one send (a gather write when there are several blocks) on the calling
/// thread. There is no output pipe and no send loop: a response costs one system call and no hand-off, and a
/// connection holds no output memory between flushes. A flush completes when the kernel has taken every byte,
/// which is the back-pressure (the socket buffer plays the part of the pipe's pause threshold). The exception is
/// write-behind on our epoll loop: a small flush there completes at once and its bytes leave at the end of the loop's
/// iteration, with every other connection's, so that a burst of sends wakes a peer once (see FlushCore); the next
/// flush waits if they found the socket buffer full. One flush at a time, as for any PipeWriter.
/// <para>
/// A large body read from the other socket need not be copied in: <see cref="WriteBorrowed"/> queues the reader's
/// own blocks for the next flush (the gather write takes them as they are), and the caller keeps them unchanged
/// until that flush has completed.
/// </para>
/// </summary>
internal sealed class SocketWriter : PipeWriter, IValueTaskSource<FlushResult>
{
    private readonly SocketIo _io;
    private List<ArraySegment<byte>>? _blocks; // filled blocks waiting for the flush, or being sent
    // The pooled arrays among the blocks, once a borrowed block was ever queued (the others are a reader's); until
    // then every block is pooled and this list is not made (most connections never borrow).
    private List<byte[]>? _owned;
    private byte[]? _current;
    private int _currentUsed;
    private ValueTask<int> _pendingSend;
    private ManualResetValueTaskSourceCore<FlushResult> _flush; // continuations run inline
    private int _flushWaiting; // 1 while a caller awaits a pending send
    private const int SendNone = 0;
    private const int SendFlush = 1;
    private const int SendLater = 2; // of _laterBlocks: no caller waits on it, and _blocks may fill meanwhile
    private int _sending; // the send in flight: SendNone, SendFlush (a flush's own) or SendLater (write-behind's)
    private int _cancelNext; // a CancelPendingFlush with no flush waiting applies to the next flush (PipeWriter contract)
    private int _borrowing; // 1 from a borrowed write until the send of the flush that takes it has ended
    private int _freed;
    private bool _completed;
    private bool _moreFollows; // the next flush is a piece of a message whose next piece follows at once
    // Write-behind (see FlushCore): blocks whose flushes have completed, to be sent at the end of the loop iteration.
    private const int LaterNone = 0;
    private const int LaterQueued = 1; // _laterBlocks wait for SendLaterNow (or for a flush that sends now to take them)
    private const int LaterSending = 2; // SendLaterNow is starting their send on the loop's thread
    private List<ArraySegment<byte>>? _laterBlocks;
    private int _laterQueued; // bytes in _laterBlocks
    private int _later;
    private Exception? _laterError; // how a write-behind send failed: the next flush reports it
    private int _released;

    public SocketWriter(SocketIo io)
    {
        _io = io;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (_completed)
        {
            throw new InvalidOperationException("writing is not allowed after the writer was completed");
        }

        sizeHint = Math.Max(sizeHint, 1);
        if (_current is null || _current.Length - _currentUsed < sizeHint)
        {
            if (_current is not null && _currentUsed == 0)
            {
                BlockPool<byte>.Return(_current); // empty but too small for the hint: back to the pool, not to the GC
                _current = null;
            }

            Seal();
            _current = BlockPool<byte>.Rent(sizeHint);
        }

        return _current.AsMemory(_currentUsed);
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void Advance(int bytes)
    {
        if (_current is null || bytes < 0 || _currentUsed + bytes > _current.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes));
        }

        _currentUsed += bytes;
    }

    /// <summary>A flush's own send is still in flight (its flush was cancelled): nothing can be borrowed until it ends.</summary>
    public bool IsSending => Volatile.Read(ref _sending) == SendFlush;

    /// <summary>
    /// Queues <paramref name="data"/> after what is written so far, without copying it: the caller owns the memory and
    /// must leave it unchanged until the next <see cref="FlushAsync"/> has completed (sent or failed). A cancel never
    /// leaves borrowed memory behind: a flush cancelled before it sends drops what is queued (the caller gives the
    /// connection up), and <see cref="CancelPendingFlush"/> does not wake a flush whose send still reads borrowed memory.
    /// </summary>
    public void WriteBorrowed(in ReadOnlySequence<byte> data, bool moreFollows = false)
    {
        if (_completed)
        {
            throw new InvalidOperationException("writing is not allowed after the writer was completed");
        }

        if (Volatile.Read(ref _sending) == SendFlush)
        {
            throw new InvalidOperationException("a send is still in progress");
        }

        Volatile.Write(ref _borrowing, 1);
        _moreFollows = moreFollows;

        Seal();
        var blocks = _blocks ??= new List<ArraySegment<byte>>(4);
        if (_owned is null)
        {
            _owned = new List<byte[]>(blocks.Count + 4);
            foreach (var block in blocks)
            {
                _owned.Add(block.Array!);
            }
        }

        foreach (var memory in data)
        {
            if (memory.IsEmpty)
            {
                continue;
            }

            if (!MemoryMarshal.TryGetArray(memory, out var segment))
            {
                this.Write(memory.Span); // not array-backed: copied (only blocks before this one are borrowed)
                Seal();
                continue;
            }

            blocks.Add(segment);
        }
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _cancelNext, 0) == 1)
        {
            if (Volatile.Read(ref _borrowing) == 1)
            {
                // Borrowed memory must not wait in the queue for a later flush: its owner takes it back now.
                ReleaseBlocks();
            }

            return new ValueTask<FlushResult>(new FlushResult(isCanceled: true, isCompleted: false));
        }

        return FlushCore(allowLater: true);
    }

    /// <summary>
    /// The flush. On our epoll loop, while it runs a batch of events, a flush of at most <see cref="LaterAtMost"/> bytes
    /// without borrowed memory completes at once and its blocks go out at the end of the iteration, together with the
    /// other connections' (write-behind): the peers are woken once per burst, as haproxy's loop does it. A later flush
    /// in the same iteration adds to them. Any other flush (another thread, borrowed memory, more than that, "more
    /// follows", or a completion) sends what write-behind queued first. A write-behind send that finds the socket
    /// buffer full stays in flight, and the next flush waits for it; its failure is reported by the next flush.
    /// </summary>
    private ValueTask<FlushResult> FlushCore(bool allowLater)
    {
        var sending = Volatile.Read(ref _sending);
        if (sending != SendNone)
        {
            if (sending == SendLater)
            {
                return FlushAfterLaterSendAsync(allowLater);
            }

            // Only after a cancelled flush whose send never finished; the connection is being given up.
            return ValueTask.FromException<FlushResult>(new InvalidOperationException("a send is still in progress"));
        }

        if (LaterFailure() is { } earlier)
        {
            ReleaseBlocks();
            return ValueTask.FromException<FlushResult>(earlier);
        }

        Seal();
        var queued = _blocks is { } pending ? Queued(pending) : 0;
        if (queued == 0 && (allowLater || Volatile.Read(ref _later) == LaterNone))
        {
            // A completion must not return while the loop's send of what write-behind queued is in flight: the loop
            // marks that send before it clears _later, so having read _later clear, this read sees it.
            return !allowLater && Volatile.Read(ref _sending) == SendLater
                ? FlushAfterLaterSendAsync(allowLater)
                : new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false));
        }

        if (allowLater && Volatile.Read(ref _borrowing) == 0 && !_moreFollows && _laterQueued + queued <= LaterAtMost && _io.CanSendLater)
        {
            Defer(queued);
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false));
        }

        if (!TakeLater())
        {
            return FlushAfterLaterSendAsync(allowLater); // the loop sent it meanwhile and the send waits for room
        }

        if (LaterFailure() is { } failed)
        {
            ReleaseBlocks();
            return ValueTask.FromException<FlushResult>(failed);
        }

        if (_blocks is not { Count: > 0 } blocks)
        {
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false));
        }

        ValueTask<int> send;
        var more = _moreFollows;
        _moreFollows = false;
        try
        {
            send = _io.SendAsync(blocks, more);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            ReleaseBlocks();
            return ValueTask.FromException<FlushResult>(ex);
        }

        if (send.IsCompleted)
        {
            try
            {
                send.GetAwaiter().GetResult();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return ValueTask.FromException<FlushResult>(ex);
            }
            finally
            {
                ReleaseBlocks();
            }

            return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false));
        }

        Volatile.Write(ref _sending, SendFlush);
        _pendingSend = send;
        var version = WaitForSend();
        _io.OnSendCompleted(static s => ((SocketWriter)s!).OnSendCompleted(), this); // after: it may run at once
        return new ValueTask<FlushResult>(this, version);
    }

    /// <summary>
    /// Marks this flush as waiting for the send in flight and returns the version to await: the send's completion
    /// completes it. A cancel that came while it was being set up completes it cancelled (taken here, unless the
    /// cancel took the flush).
    /// </summary>
    private short WaitForSend()
    {
        _flush.Reset();
        Interlocked.Exchange(ref _flushWaiting, 1); // a full fence: a cancel from now on finds it, or this finds the cancel
        var version = _flush.Version;
        if (Volatile.Read(ref _cancelNext) == 1 && !ReadsBorrowedMemory && Interlocked.Exchange(ref _flushWaiting, 0) == 1)
        {
            Interlocked.Exchange(ref _cancelNext, 0);
            _flush.SetResult(new FlushResult(isCanceled: true, isCompleted: false));
        }

        return version;
    }

    /// <summary>
    /// At most this much waits for the end of the loop iteration: more goes out at once (a body streaming through in one
    /// iteration must not pile up: the flush's wait for the kernel is the back-pressure).
    /// </summary>
    private const int LaterAtMost = 16 * 1024;

    private static int Queued(List<ArraySegment<byte>> blocks)
    {
        var total = 0;
        foreach (var block in blocks)
        {
            total += block.Count;
        }

        return total;
    }

    /// <summary>How an earlier write-behind send failed (reported once), or null.</summary>
    private Exception? LaterFailure() => Volatile.Read(ref _laterError) is null ? null : Interlocked.Exchange(ref _laterError, null);

    /// <summary>
    /// Moves the queued blocks (all pooled: nothing is borrowed) to the write-behind list, and asks the loop to send them
    /// at the end of its iteration. Only on the loop's thread while it runs events: the end of the iteration, which is
    /// the only other place that takes the list, cannot run meanwhile.
    /// </summary>
    private void Defer(int queued)
    {
        var blocks = _blocks!;
        var later = _laterBlocks ??= new List<ArraySegment<byte>>(4);
        later.AddRange(blocks);
        blocks.Clear();
        _owned?.Clear(); // they were exactly the queued blocks, which are the write-behind list's now
        _laterQueued += queued;
        if (Volatile.Read(ref _later) == LaterNone)
        {
            Volatile.Write(ref _later, LaterQueued);
            _io.SendLater(static s => ((SocketWriter)s!).SendLaterNow(), this);
        }
    }

    /// <summary>
    /// Before a send that cannot wait: puts what write-behind queued in front of the queued blocks, unless the loop is
    /// sending it. False when the loop's send of it is still in flight (the caller waits for it); true otherwise.
    /// </summary>
    private bool TakeLater()
    {
        if (!ClaimLater())
        {
            return Volatile.Read(ref _sending) == SendNone;
        }

        var later = _laterBlocks!;
        if (_owned is { } owned)
        {
            foreach (var block in later)
            {
                owned.Add(block.Array!);
            }
        }

        if (_blocks is { } blocks)
        {
            later.AddRange(blocks);
            blocks.Clear();
        }

        (_blocks, _laterBlocks) = (later, _blocks ?? new List<ArraySegment<byte>>(4));
        _laterQueued = 0;
        return true;
    }

    /// <summary>
    /// Takes what write-behind queued away from the loop (true: the caller owns <see cref="_laterBlocks"/>), or finds
    /// nothing queued (false); while the loop's thread is starting their send (a non-blocking call), waits for it.
    /// </summary>
    private bool ClaimLater()
    {
        var spin = default(SpinWait);
        int state;
        while ((state = Interlocked.CompareExchange(ref _later, LaterNone, LaterQueued)) == LaterSending)
        {
            spin.SpinOnce();
        }

        return state == LaterQueued;
    }

    /// <summary>
    /// Waits for the write-behind send in flight (the socket buffer was full when it went out), then flushes. A cancel
    /// wakes it (nothing of this flush is being sent); a failure of that send fails it. Either way borrowed memory is
    /// let go of, as a flush that ends without sending does.
    /// </summary>
    private async ValueTask<FlushResult> FlushAfterLaterSendAsync(bool allowLater)
    {
        try
        {
            var version = WaitForSend();
            if (Volatile.Read(ref _sending) == SendNone && Interlocked.Exchange(ref _flushWaiting, 0) == 1)
            {
                // It ended meanwhile (a flush from another thread than the loop's).
            }
            else if ((await new ValueTask<FlushResult>(this, version).ConfigureAwait(false)).IsCanceled)
            {
                return Cancelled();
            }
        }
        catch
        {
            ReleaseBlocks();
            throw;
        }

        return await FlushCore(allowLater).ConfigureAwait(false);
    }

    private FlushResult Cancelled()
    {
        if (Volatile.Read(ref _borrowing) == 1)
        {
            ReleaseBlocks(); // borrowed memory must not wait in the queue for a later flush (as in FlushAsync)
        }

        return new FlushResult(isCanceled: true, isCompleted: false);
    }

    /// <summary>
    /// A send is still in flight, or a write-behind send failed and no flush has reported it: a pooled connection in
    /// that state is not reused (its next request would wait behind a peer that stopped reading, or fail).
    /// </summary>
    public bool OutputPending => Volatile.Read(ref _sending) != SendNone || Volatile.Read(ref _laterError) is not null;

    /// <summary>
    /// Before the transport closes: sends what write-behind flushes queued (after the loop's own start of that send,
    /// if it is starting it now). A send that cannot finish at once is cut short by the close.
    /// </summary>
    internal void SendQueuedBeforeClose()
    {
        var spin = default(SpinWait);
        while (Volatile.Read(ref _later) == LaterSending)
        {
            spin.SpinOnce();
        }

        SendLaterNow();
    }

    /// <summary>
    /// Sends what write-behind flushes queued, if a flush has not taken it: at the end of the loop iteration, or before
    /// the transport closes. A send that cannot finish stays in flight; a failure is kept for the next flush.
    /// </summary>
    internal void SendLaterNow()
    {
        if (Interlocked.CompareExchange(ref _later, LaterSending, LaterQueued) != LaterQueued)
        {
            return;
        }

        var later = _laterBlocks!;
        _laterQueued = 0;
        ValueTask<int> send;
        try
        {
            send = _io.SendAsync(later);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            _laterError = ex;
            ReleaseLater();
            Volatile.Write(ref _later, LaterNone);
            return;
        }

        if (!send.IsCompleted)
        {
            _pendingSend = send;
            Volatile.Write(ref _sending, SendLater);
            Volatile.Write(ref _later, LaterNone);
            _io.OnSendCompleted(static s => ((SocketWriter)s!).OnSendCompleted(), this);
            return;
        }

        try
        {
            send.GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            _laterError = ex;
        }
        finally
        {
            ReleaseLater();
            Volatile.Write(ref _later, LaterNone);
        }
    }

    /// <summary>Gives the write-behind blocks (all pooled) back.</summary>
    private void ReleaseLater()
    {
        if (_laterBlocks is { } later)
        {
            foreach (var block in later)
            {
                BlockPool<byte>.Return(block.Array!);
            }

            later.Clear();
        }

        _laterQueued = 0;
    }

    /// <summary>
    /// Wakes a caller waiting on a send that does not finish (the peer stopped reading); the send stays in flight. Not
    /// while that send reads borrowed memory (the caller would give it back under the send): the cancel then applies to
    /// the next flush, and this one ends with its send (or with the socket's close).
    /// </summary>
    /// <remarks>
    /// From any thread. The flag goes up before the waiting flush is taken, and a flush is marked waiting (with a full
    /// fence) before it looks at the flag: a flush being set up as the cancel comes either sees the flag or is taken by
    /// it (taking the waiting flag first lost the cancel when the flush was marked waiting in between).
    /// </remarks>
    public override void CancelPendingFlush()
    {
        Interlocked.Exchange(ref _cancelNext, 1);
        if (ReadsBorrowedMemory)
        {
            return;
        }

        if (Interlocked.Exchange(ref _flushWaiting, 0) == 1)
        {
            Interlocked.Exchange(ref _cancelNext, 0); // it applies to this flush, not to the next
            _flush.SetResult(new FlushResult(isCanceled: true, isCompleted: false));
        }
    }

    /// <summary>The send in flight reads borrowed memory: a cancel waits for the next flush.</summary>
    private bool ReadsBorrowedMemory => Volatile.Read(ref _borrowing) == 1 && Volatile.Read(ref _sending) == 1;

    public override void Complete(Exception? exception = null) => _ = CompleteAsync(exception).AsTask();

    /// <summary>Sends what is buffered, then ends this direction with a FIN (nothing more is sent after an error).</summary>
    public override async ValueTask CompleteAsync(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }

        try
        {
            // What is buffered and what write-behind queued go before the FIN (not after a cancelled flush whose send
            // never finished: the connection is being given up).
            if (exception is null && Volatile.Read(ref _sending) != SendFlush)
            {
                await FlushCore(allowLater: false).ConfigureAwait(false);
            }

            _completed = true;
            _io.ShutdownSend();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException)
        {
            _completed = true; // the connection is gone; the close will tell the peer
        }
    }

    /// <summary>Called once the socket is closed: gives the blocks back and frees the send operation (now, or when a send in flight fails).</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }

        _completed = true;
        if (Volatile.Read(ref _sending) == SendNone)
        {
            FreeResources();
        }
    }

    private void FreeResources()
    {
        // What write-behind queued is dropped, unless the loop's thread is sending it: that send then ends first.
        if (ClaimLater())
        {
            ReleaseLater();
        }

        if (Volatile.Read(ref _sending) != SendNone)
        {
            return; // that send went into flight: its completion frees (it sees _released)
        }

        if (Interlocked.Exchange(ref _freed, 1) != 0)
        {
            return;
        }

        ReleaseBlocks();
        if (Interlocked.Exchange(ref _current, null) is { } current)
        {
            BlockPool<byte>.Return(current);
        }

        _io.SendEnded();
    }

    private void Seal()
    {
        if (_current is null)
        {
            return;
        }

        if (_currentUsed == 0)
        {
            return; // keep an empty block for the next write
        }

        (_blocks ??= new List<ArraySegment<byte>>(4)).Add(new ArraySegment<byte>(_current, 0, _currentUsed));
        _owned?.Add(_current);
        _current = null;
        _currentUsed = 0;
    }

    private void OnSendCompleted()
    {
        Exception? error = null;
        try
        {
            _pendingSend.GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            error = ex;
        }

        _pendingSend = default;
        if (Volatile.Read(ref _sending) == SendLater)
        {
            ReleaseLater(); // not _blocks: the writer may be filling them on another thread
        }
        else
        {
            ReleaseBlocks();
        }

        if (error is not null && Volatile.Read(ref _flushWaiting) == 0)
        {
            _laterError = error; // no flush waits (a write-behind send, or a cancelled flush): the next one reports it
        }

        Interlocked.Exchange(ref _sending, SendNone); // a full fence: this or Release sees the other and frees
        if (Volatile.Read(ref _released) != 0)
        {
            FreeResources(); // the connection closed while this send was in flight
        }

        if (Interlocked.Exchange(ref _flushWaiting, 0) == 1)
        {
            if (error is null)
            {
                _flush.SetResult(new FlushResult(isCanceled: false, isCompleted: false));
            }
            else
            {
                _flush.SetException(error);
            }
        }
    }

    /// <summary>Gives the queued (or sent) blocks back: the pooled ones to the pool; borrowed ones are no longer held.</summary>
    private void ReleaseBlocks()
    {
        if (_owned is { } owned)
        {
            foreach (var block in owned)
            {
                BlockPool<byte>.Return(block);
            }

            owned.Clear();
        }
        else if (_blocks is { } blocks)
        {
            foreach (var block in blocks)
            {
                BlockPool<byte>.Return(block.Array!);
            }
        }

        _blocks?.Clear();
        Volatile.Write(ref _borrowing, 0);
    }

    FlushResult IValueTaskSource<FlushResult>.GetResult(short token) => _flush.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<FlushResult>.GetStatus(short token) => _flush.GetStatus(token);

    void IValueTaskSource<FlushResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _flush.OnCompleted(continuation, state, token, flags);
}
