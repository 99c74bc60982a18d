using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace Sidekick.Core.Transport;

/// <summary>
/// A stream (an authenticated <see cref="SslStream"/> over a <see cref="SocketIoStream"/>) seen as a pair of pipes, with the same
/// semantics as <see cref="SocketTransport"/>: two pumps copy between the stream and the pipes, so the proxy's
/// <c>CancelPendingRead</c> only wakes a pipe reader and never cancels a read on the TLS stream itself (an
/// SslStream is not safe to use after a cancelled read). The input pump waits with a zero-byte read, so an idle
/// connection holds no receive buffer. Completing the output sends TLS close_notify and a FIN.
/// </summary>
internal sealed class StreamTransport : ITransportConnection
{
    private static readonly PipeOptions PipeOptions = new(
        pool: null,
        readerScheduler: PipeScheduler.Inline,
        writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 64 * 1024,
        resumeWriterThreshold: 32 * 1024,
        minimumSegmentSize: 4096,
        useSynchronizationContext: false);

    /// <summary>The most plaintext one TLS record carries (RFC 8446 5.1, RFC 5246 6.2.1).</summary>
    internal const int RecordAtMost = 16 * 1024;

    /// <summary>The most the input gathers from records already decrypted before the proxy sees it.</summary>
    private const int GatherAtMost = 64 * 1024;

    private readonly Stream _stream;
    private readonly SocketIo _io;
    private readonly SocketIoStream _under; // the stream under the SslStream, told when more records follow
    private readonly Pipe _input = new(PipeOptions);
    private readonly Pipe _output = new(PipeOptions);
    private int _disposed;

    private StreamTransport(Stream stream, SocketIoStream under)
    {
        _stream = stream;
        _under = under;
        _io = under.Io;
        RemoteEndPoint = _io.RemoteEndPoint;
        _ = ReceiveAsync();
        OutputDone = SendAsync();
    }

    /// <summary>
    /// Wraps an authenticated <paramref name="stream"/> over <paramref name="under"/>, the socket's stream (told when
    /// more records follow, for MSG_MORE); the transport owns both and the socket.
    /// </summary>
    public static StreamTransport Create(Stream stream, SocketIoStream under) => new(stream, under);

    public EndPoint? RemoteEndPoint { get; }

    public PipeReader Input => _input.Reader;

    public PipeWriter Output => _output.Writer;

    /// <summary>The stream encrypts what it is given: the caller copies into the output pipe.</summary>
    public bool TryWriteBorrowed(in ReadOnlySequence<byte> data, bool moreFollows = false) => false;

    /// <summary>The negotiated TLS protocol, when the stream is an SslStream.</summary>
    public System.Security.Authentication.SslProtocols Protocol => (_stream as SslStream)?.SslProtocol ?? default;

    /// <summary>The output pump writes to the stream until it completes: no send stays behind a completed response.</summary>
    public bool OutputPending => false;

    /// <summary>The send pump: it ends after close_notify and the FIN, or when sending fails.</summary>
    public Task OutputDone { get; }

    public void Interrupt() => _io.Interrupt();

    public void Abort()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        _io.ArmReset();
        Dispose();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // The socket first: pending stream operations fail at once and the pumps end. The socket's operations are
        // released here, not by the pumps (the send pump may stay parked on its pipe).
        _io.Discard();
        _stream.Dispose();
        _input.Writer.Complete();
        _output.Reader.Complete();
    }

    private async Task ReceiveAsync()
    {
        var writer = _input.Writer;
        Exception? error = null;
        var gathered = 0;
        try
        {
            while (true)
            {
                // Wait for data without a buffer (SslStream supports zero-byte reads), then take up to a whole TLS
                // record. A wait that completes at once means a record's data is already decrypted (an SslStream ends
                // a zero-byte read only then, or at the end): it is gathered, up to 64 KiB, before the proxy sees it,
                // so a body goes on in pieces of several records (one send, one wake-up of the next hop) instead of
                // one each. What is gathered goes to the proxy before any wait.
                var wait = _stream.ReadAsync(Memory<byte>.Empty);
                if (!wait.IsCompleted && gathered > 0)
                {
                    gathered = 0;
                    if ((await writer.FlushAsync().ConfigureAwait(false)).IsCompleted)
                    {
                        break;
                    }
                }

                await wait.ConfigureAwait(false);
                var memory = writer.GetMemory(RecordAtMost);
                var n = await _stream.ReadAsync(memory).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                writer.Advance(n);
                gathered += n;
                if (gathered >= GatherAtMost)
                {
                    gathered = 0;
                    if ((await writer.FlushAsync().ConfigureAwait(false)).IsCompleted)
                    {
                        break;
                    }
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or InvalidOperationException or System.Security.Authentication.AuthenticationException)
        {
            error = Volatile.Read(ref _disposed) != 0 ? null : new IOException(ex.Message, ex);
        }

        if (gathered > 0 && Volatile.Read(ref _disposed) == 0)
        {
            // What came before the end or the failure reaches the proxy first: a reader of a pipe completed with an
            // error gets the error, not the data still unflushed in it.
            try
            {
                await writer.FlushAsync().ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
            }
        }

        try
        {
            await writer.CompleteAsync(error).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
        }
    }

    /// <summary>
    /// Writes <paramref name="buffer"/> in pieces of up to one TLS record: the output pipe's 4 KiB blocks written one
    /// by one made a record and a send(2) of each (about 256 of both per MiB instead of 64). A piece that lies in one
    /// block goes as it is; one across blocks is gathered into a buffer rented for the write. All but the last piece go
    /// with MSG_MORE: the kernel sends full packets instead of one short one per record (writing blocks of a whole
    /// record each, without gathering, was tried: no faster, and each response held a 16 KiB block).
    /// </summary>
    private async ValueTask WriteRecordsAsync(ReadOnlySequence<byte> buffer)
    {
        byte[]? record = null;
        try
        {
            while (!buffer.IsEmpty)
            {
                var n = (int)Math.Min(buffer.Length, RecordAtMost);
                ReadOnlyMemory<byte> piece;
                if (buffer.First.Length >= n)
                {
                    piece = buffer.First[..n];
                }
                else
                {
                    record ??= ArrayPool<byte>.Shared.Rent(RecordAtMost);
                    buffer.Slice(0, n).CopyTo(record);
                    piece = record.AsMemory(0, n);
                }

                buffer = buffer.Slice(n);
                _under.MoreFollows = !buffer.IsEmpty;

                await _stream.WriteAsync(piece).ConfigureAwait(false);
            }
        }
        finally
        {
            _under.MoreFollows = false;
            if (record is not null)
            {
                ArrayPool<byte>.Shared.Return(record);
            }
        }
    }

    private async Task SendAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    await WriteRecordsAsync(buffer).ConfigureAwait(false);
                    await _stream.FlushAsync().ConfigureAwait(false);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }

            // The writer completed: close_notify, then FIN, as a socket transport sends FIN.
            if (_stream is SslStream ssl)
            {
                await ssl.ShutdownAsync().ConfigureAwait(false);
            }

            _io.ShutdownSend();
            await reader.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or InvalidOperationException or NotSupportedException)
        {
            try
            {
                await reader.CompleteAsync(ex).ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
            }
        }
    }
}
