using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Sidekick.Http1;

namespace Sidekick.Core.Transport;

/// <summary>
/// The input half of <see cref="SocketTransport"/>: a PipeReader that receives from the socket when it is read,
/// with no pipe and no receive loop in between. A read that finds nothing new receives at once without blocking;
/// when the socket has nothing, it waits for data with no buffer (<see cref="SocketIo.WaitReadableAsync"/>) and
/// receives when woken, on the waking thread, so the proxy's parser runs right after the system call. Back-pressure
/// is the reader itself: nothing is received until the proxy asks for more. Buffers are pooled blocks (4 KiB,
/// larger while a body streams in, and several receives of up to 64 KiB in all while they keep filling), given back
/// as soon as they are consumed: an idle connection holds none.
/// <para>
/// Concurrency: only the thread that owns the read touches the buffers: the caller of ReadAsync, or, once it has
/// parked, whoever takes the parked flag with an exchange (the wake-up, CancelPendingRead, or the token). A wait
/// left in flight by a cancelled read is picked up by the next read.
/// </para>
/// </summary>
internal sealed class SocketReader : PipeReader, IValueTaskSource<ReadResult>
{
    private const int MinReceive = 4096;
    private const int MaxReceive = 32 * 1024;
    private const int GatherAtMost = 64 * 1024;
    private const int MinFree = 512; // less free space than this at the tail: receive into a new block

    private static readonly ReusePool<Segment> Segments = new(4096);

    // A thread's own segment objects in front of the shared pool (whose lock costs more than the rest of a rent).
    [ThreadStatic]
    private static ThreadCache<Segment>? t_segments;

    private readonly SocketIo _io;
    private Segment? _head; // first unconsumed block
    private int _headIndex;
    private Segment? _tail; // last block; its End is the end of the data
    private long _end; // running index of the end of the data received so far
    private long _examined; // running index up to which the reader has looked
    private int _size = MinReceive;
    private bool _fin;
    private Exception? _error;
    private bool _completed;
    private int _disposed;

    private ValueTask<int> _wait;
    private int _waiting; // 1 while a wait for data is in flight
    private int _parked; // 1 while a ReadAsync caller waits for this reader
    private int _cancelNext; // CancelPendingRead with no read parked: the next read returns cancelled
    private ManualResetValueTaskSourceCore<ReadResult> _source; // continuations inline
    private CancellationTokenRegistration _tokenRegistration;

    public SocketReader(SocketIo io)
    {
        _io = io;
    }

    private enum Pump
    {
        Ready,
        Cancelled,
        Parked,
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (_completed)
        {
            return ValueTask.FromException<ReadResult>(new InvalidOperationException("reading is not allowed after the reader was completed"));
        }

        if (Interlocked.Exchange(ref _cancelNext, 0) == 1)
        {
            return new ValueTask<ReadResult>(Result(cancelled: true));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<ReadResult>(cancellationToken);
        }

        _source.Reset();
        if (cancellationToken.CanBeCanceled)
        {
            // Before parking, so that whoever completes the read finds it to unregister.
            _tokenRegistration = cancellationToken.UnsafeRegister(static (s, token) => ((SocketReader)s!).OnTokenCancelled(token), this);
        }

        var pump = PumpOrPark();
        if (pump == Pump.Parked)
        {
            if (!cancellationToken.IsCancellationRequested || Interlocked.Exchange(ref _parked, 0) == 0)
            {
                return new ValueTask<ReadResult>(this, _source.Version);
            }

            pump = Pump.Cancelled; // the token fired before the read parked
        }

        _tokenRegistration.Unregister();
        _tokenRegistration = default;
        if (pump == Pump.Cancelled && cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<ReadResult>(cancellationToken);
        }

        return pump == Pump.Cancelled ? new ValueTask<ReadResult>(Result(cancelled: true))
            : _error is { } error ? ValueTask.FromException<ReadResult>(error)
            : new ValueTask<ReadResult>(Result(cancelled: false));
    }

    public override bool TryRead(out ReadResult result)
    {
        if (_completed)
        {
            throw new InvalidOperationException("reading is not allowed after the reader was completed");
        }

        if (Interlocked.Exchange(ref _cancelNext, 0) == 1)
        {
            result = Result(cancelled: true);
            return true;
        }

        if (HasNews || (Volatile.Read(ref _waiting) == 0 && Fill()))
        {
            if (_error is { } error)
            {
                throw error;
            }

            result = Result(cancelled: false);
            return true;
        }

        result = default;
        return false;
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        _examined = examined.GetObject() is Segment seen ? seen.RunningIndex + examined.GetInteger() : _end;
        if (consumed.GetObject() is Segment segment)
        {
            while (_head is not null && !ReferenceEquals(_head, segment))
            {
                var next = (Segment?)_head.Next;
                Release(_head);
                _head = next;
            }

            _headIndex = consumed.GetInteger();
            if (ReferenceEquals(_head, _tail) && _head is not null && _headIndex == _head.End)
            {
                Release(_head); // all consumed: an idle connection holds no block
                _head = _tail = null;
                _headIndex = 0;
            }
        }
    }

    /// <summary>
    /// Ends the parked read as cancelled, or the next read when none is parked, from any thread. The flag goes up
    /// before the parked one is taken, and a read parks only after it checked the flag, both with full fences: a read
    /// that parks as the cancel comes either sees the flag or is taken by it (taking the parked flag first lost the
    /// cancel when the read parked in between, and left it for the read after).
    /// </summary>
    public override void CancelPendingRead()
    {
        Interlocked.Exchange(ref _cancelNext, 1);
        if (Interlocked.Exchange(ref _parked, 0) == 1)
        {
            Interlocked.Exchange(ref _cancelNext, 0); // it applies to this read, not to the next
            _tokenRegistration.Unregister();
            _source.SetResult(Result(cancelled: true));
        }
    }

    public override void Complete(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }

        _completed = true;
        while (_head is not null)
        {
            var next = (Segment?)_head.Next;
            Release(_head);
            _head = next;
        }

        _tail = null;
    }

    /// <summary>The transport is closing: a wait that fails from now on is the end of the input, not an error.</summary>
    public void OnDisposing()
    {
        Volatile.Write(ref _disposed, 1);
        if (Volatile.Read(ref _waiting) == 0)
        {
            _io.ReceiveEnded();
        }
    }

    /// <summary>Data the reader has not looked at, or the end (FIN or error), is there.</summary>
    private bool HasNews => _end > _examined || _fin || _error is not null;

    private ReadResult Result(bool cancelled) => new(
        _head is null ? default : new ReadOnlySequence<byte>(_head, _headIndex, _tail!, _tail!.End),
        cancelled,
        _fin);

    /// <summary>Receives what is there, or starts a wait and parks. Called by the read's owner only.</summary>
    private Pump PumpOrPark()
    {
        while (true)
        {
            if (HasNews)
            {
                return Pump.Ready;
            }

            if (Volatile.Read(ref _waiting) == 0)
            {
                if (Fill())
                {
                    return Pump.Ready;
                }

                ValueTask<int> wait;
                try
                {
                    wait = _io.WaitReadableAsync();
                }
                catch (Exception ex) when (TransportErrors.IsIoFailure(ex))
                {
                    End(ex);
                    return Pump.Ready;
                }

                if (wait.IsCompleted)
                {
                    if (!Waited(wait))
                    {
                        return Pump.Ready;
                    }

                    continue;
                }

                _wait = wait;
                Volatile.Write(ref _waiting, 1);
                _io.OnWaitCompleted(static s => ((SocketReader)s!).OnReadable(), this); // may run at once: then _waiting is 0 below
            }

            Interlocked.Exchange(ref _parked, 1);
            if (Volatile.Read(ref _waiting) != 0 && Volatile.Read(ref _cancelNext) == 0)
            {
                return Pump.Parked;
            }

            if (Interlocked.Exchange(ref _parked, 0) == 0)
            {
                return Pump.Parked; // taken by the wake-up or a cancel: they complete the read
            }

            if (Interlocked.Exchange(ref _cancelNext, 0) == 1)
            {
                return Pump.Cancelled;
            }
        }
    }

    /// <summary>The wait for data ended: take its outcome; false when it failed (the input has ended).</summary>
    private bool Waited(ValueTask<int> wait)
    {
        try
        {
            if (wait.GetAwaiter().GetResult() < 0)
            {
                EndClosed();
                return false;
            }

            return true;
        }
        catch (Exception ex) when (TransportErrors.IsIoFailure(ex))
        {
            End(ex);
            return false;
        }
    }

    private void OnReadable()
    {
        var wait = _wait;
        _wait = default;
        Exception? failure = null;
        var closed = false;
        try
        {
            closed = wait.GetAwaiter().GetResult() < 0;
        }
        catch (Exception ex) when (TransportErrors.IsIoFailure(ex))
        {
            failure = ex;
        }

        Interlocked.Exchange(ref _waiting, 0);
        if (failure is not null || closed || Volatile.Read(ref _disposed) != 0)
        {
            _io.ReceiveEnded();
        }

        if (Interlocked.Exchange(ref _parked, 0) == 0)
        {
            return; // no read waiting (it was cancelled): the next read receives, and meets any failure itself
        }

        _tokenRegistration.Unregister();
        _tokenRegistration = default;
        if (failure is not null)
        {
            End(failure);
        }
        else if (closed)
        {
            EndClosed();
        }

        switch (PumpOrPark())
        {
            case Pump.Ready:
                if (_error is { } error)
                {
                    _source.SetException(error);
                }
                else
                {
                    _source.SetResult(Result(cancelled: false));
                }

                break;
            case Pump.Cancelled:
                _source.SetResult(Result(cancelled: true));
                break;
        }
    }

    private void OnTokenCancelled(CancellationToken token)
    {
        if (Interlocked.Exchange(ref _parked, 0) == 1)
        {
            _source.SetException(new OperationCanceledException(token));
        }
    }

    /// <summary>Receives without waiting into the tail (or a new block). True when something changed: data, FIN or an error.</summary>
    private bool Fill()
    {
        if (_fin || _completed)
        {
            return _fin;
        }

        // A receive that fills its block is followed by another, up to GatherAtMost in all, while the socket keeps
        // filling them: a streaming body then reaches the proxy in pieces of up to 64 KiB, which it sends on in one
        // write (larger TCP segments, fewer of them for the next hop and its acknowledgements).
        var gathered = 0;
        while (true)
        {
            Segment? added = null;
            var tail = _tail;
            if (tail is null || tail.Array.Length - tail.End < MinFree)
            {
                added = Rent(_size);
                tail = added;
            }

            var space = tail.Array.AsSpan(tail.End);
            var n = _io.TryReceive(space, out var error);
            if (n > 0)
            {
                if (added is not null)
                {
                    Append(added);
                }

                tail.Commit(n);
                _end += n;
                gathered += n;
                // A full buffer means the peer is streaming: receive into larger blocks (fewer system calls per megabyte).
                var full = n == space.Length;
                _size = full ? Math.Min(_size * 2, MaxReceive) : MinReceive;
                if (!full || gathered >= GatherAtMost)
                {
                    return true;
                }

                continue;
            }

            if (added is not null)
            {
                Release(added);
            }

            if (gathered > 0)
            {
                // What was gathered is returned now; a FIN, an error or EAGAIN is met again by the next receive.
                return true;
            }

            if (n == 0)
            {
                _fin = true;
                return true;
            }

            if (error == SocketError.WouldBlock)
            {
                return false;
            }

            End(new SocketException((int)error));
            return true;
        }
    }

    /// <summary>
    /// The socket was closed under the wait: the end of the input when the transport is being disposed (the usual
    /// way a connection ends, so no exception is made, let alone thrown), an aborted read otherwise.
    /// </summary>
    private void EndClosed()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            _fin = true;
        }
        else
        {
            End(new SocketException((int)SocketError.OperationAborted));
        }
    }

    /// <summary>The input ended with <paramref name="error"/>: an error, unless the transport is closing (then a plain end).</summary>
    private void End(Exception error)
    {
        if (Volatile.Read(ref _disposed) == 0 && error is SocketException)
        {
            _error = error;
        }

        _fin = true;
    }

    private void Append(Segment segment)
    {
        segment.Start(_end);
        if (_tail is null)
        {
            _head = segment;
            _headIndex = 0;
        }
        else
        {
            _tail.Link(segment);
        }

        _tail = segment;
    }

    private static Segment Rent(int size)
    {
        if (!Segments.TryRent(ref t_segments, out var segment))
        {
            segment = new Segment();
        }

        segment.Array = BlockPool<byte>.Rent(size);
        return segment;
    }

    private static void Release(Segment segment)
    {
        BlockPool<byte>.Return(segment.Array);
        segment.Reset();
        Segments.Return(ref t_segments, segment);
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _source.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);

    /// <summary>A received block in the reader's chain.</summary>
    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public byte[] Array = [];

        public int End { get; private set; }

        public void Commit(int count)
        {
            End += count;
            Memory = Array.AsMemory(0, End);
        }

        public void Start(long runningIndex) => RunningIndex = runningIndex;

        public void Link(Segment next) => Next = next;

        public void Reset()
        {
            Array = [];
            End = 0;
            Memory = default;
            Next = null;
            RunningIndex = 0;
        }
    }
}
