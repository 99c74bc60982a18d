using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Sidekick.Core.Transport;

/// <summary>
/// One reusable socket operation (a receive or a send) awaited without allocating: the event args are the
/// value-task source. Continuations run inline on the thread that completed the I/O, so a request does not hop
/// threads between the socket and the proxy (DESIGN, performance recipe). One instance per direction per socket;
/// never two operations in flight on one instance.
/// </summary>
internal sealed class SocketOperation : SocketAsyncEventArgs, IValueTaskSource<int>
{
    private ManualResetValueTaskSourceCore<int> _source; // RunContinuationsAsynchronously = false: inline

    public SocketOperation()
        : base(unsafeSuppressExecutionContextFlow: true)
    {
    }

    /// <summary>
    /// Waits for data without a buffer: 0 when data, a FIN or an error may be there, -1 when the socket was closed under
    /// the wait (as on our epoll loop: every connection ends this way, and an exception each time costs CPU).
    /// </summary>
    public ValueTask<int> WaitReadableAsync(Socket socket)
    {
        SetBuffer(Memory<byte>.Empty);
        _source.Reset();
        return socket.ReceiveAsync(this) ? new ValueTask<int>(this, _source.Version) : Result();
    }

    /// <summary>Sends all of <paramref name="blocks"/> (kept alive by the caller until the send completes).</summary>
    public ValueTask<int> SendAsync(Socket socket, List<ArraySegment<byte>> blocks)
    {
        if (blocks.Count == 1)
        {
            if (BufferList is not null)
            {
                BufferList = null;
            }

            SetBuffer(blocks[0].AsMemory());
        }
        else
        {
            SetBuffer(Memory<byte>.Empty);
            BufferList = blocks;
        }

        _source.Reset();
        return socket.SendAsync(this) ? new ValueTask<int>(this, _source.Version) : Result();
    }

    /// <summary>Runs <paramref name="callback"/>(<paramref name="state"/>) when the operation in flight completes.</summary>
    public void OnCompleted(Action<object?> callback, object state) =>
        _source.OnCompleted(callback, state, _source.Version, ValueTaskSourceOnCompletedFlags.None);

    private ValueTask<int> Result() => SocketError == SocketError.Success
        ? new ValueTask<int>(BytesTransferred)
        : ClosedUnderWait ? new ValueTask<int>(-1)
        : ValueTask.FromException<int>(new SocketException((int)SocketError));

    // The only receive is the wait for data (TryReceive is a plain non-blocking call).
    private bool ClosedUnderWait => LastOperation == SocketAsyncOperation.Receive && SocketError == SocketError.OperationAborted;

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        if (SocketError == SocketError.Success)
        {
            _source.SetResult(BytesTransferred);
        }
        else if (ClosedUnderWait)
        {
            _source.SetResult(-1);
        }
        else
        {
            _source.SetException(new SocketException((int)SocketError));
        }
    }

    int IValueTaskSource<int>.GetResult(short token) => _source.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);
}
