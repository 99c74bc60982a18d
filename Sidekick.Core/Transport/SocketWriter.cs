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
/// which is the back-pressure (the socket buffer plays the part of the pipe's pause threshold).
/// One flush at a time, as for any PipeWriter.
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
    private int _sending; // 1 while a send is in flight
    private int _cancelNext; // a CancelPendingFlush with no flush waiting applies to the next flush (PipeWriter contract)
    private int _borrowing; // 1 from a borrowed write until the send of the flush that takes it has ended
    private int _freed;
    private bool _completed;
    private bool _moreFollows; // the next flush is a piece of a message whose next piece follows at once
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

        if (Volatile.Read(ref _sending) != 0)
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

        if (Volatile.Read(ref _sending) != 0)
        {
            // Only after a cancelled flush whose send never finished; the connection is being given up.
            return ValueTask.FromException<FlushResult>(new InvalidOperationException("a send is still in progress"));
        }

        Seal();
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

        Volatile.Write(ref _sending, 1);
        _pendingSend = send;
        _flush.Reset();
        Interlocked.Exchange(ref _flushWaiting, 1); // a full fence: a cancel from now on finds it, or this finds the cancel
        var version = _flush.Version;
        _io.OnSendCompleted(static s => ((SocketWriter)s!).OnSendCompleted(), this);
        if (Volatile.Read(ref _cancelNext) == 1 && !ReadsBorrowedMemory && Interlocked.Exchange(ref _flushWaiting, 0) == 1)
        {
            // A cancel that came while this flush was being set up (taken here, unless the cancel took the flush).
            Interlocked.Exchange(ref _cancelNext, 0);
            _flush.SetResult(new FlushResult(isCanceled: true, isCompleted: false));
        }

        return new ValueTask<FlushResult>(this, version);
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
            if (exception is null && Volatile.Read(ref _sending) == 0)
            {
                await FlushAsync().ConfigureAwait(false);
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
        if (Volatile.Read(ref _sending) == 0)
        {
            FreeResources();
        }
    }

    private void FreeResources()
    {
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
        ReleaseBlocks();
        Interlocked.Exchange(ref _sending, 0); // a full fence: this or Release sees the other and frees
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
