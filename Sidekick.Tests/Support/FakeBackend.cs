using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sidekick.Tests.Support;

/// <summary>
/// A backend the test controls byte by byte: a loopback listener on port 0 whose every accepted connection
/// runs <c>handler</c>. It records what each connection received and how many connections it accepted.
/// </summary>
internal sealed class FakeBackend : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Func<BackendConnection, Task> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<BackendConnection> _connections = [];
    private readonly Task _accept;
    private int _accepted;

    public FakeBackend(Func<BackendConnection, Task> handler)
    {
        _handler = handler;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(128);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _accept = AcceptAsync();
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}";

    public int Accepted => Volatile.Read(ref _accepted);

    public IReadOnlyCollection<BackendConnection> Connections => _connections;

    /// <summary>Everything received on all connections, in accept order of the connections.</summary>
    public string AllReceived => string.Concat(_connections.OrderBy(c => c.Id).Select(c => c.ReceivedText));

    /// <summary>A backend that answers every request with 200 and a fixed body, keep-alive.</summary>
    public static FakeBackend Ok(string body = "hello") => new(async c =>
    {
        while (await c.ReadRequestAsync() is not null)
        {
            await c.WriteAsync($"HTTP/1.1 200 OK\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\nContent-Type: text/plain\r\n\r\n{body}");
        }
    });

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }

            var id = Interlocked.Increment(ref _accepted);
            var conn = new BackendConnection(s, id);
            _connections.Add(conn);
            _ = Task.Run(async () =>
            {
                try
                {
                    await _handler(conn);
                }
                catch (Exception)
                {
                    // Handlers end by failing when the proxy closes: fine.
                }
                finally
                {
                    conn.Dispose();
                }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accept;
        foreach (var c in _connections)
        {
            c.Dispose();
        }

        _stop.Dispose();
    }
}

/// <summary>One accepted backend connection with helpers to read requests and write raw responses.</summary>
internal sealed class BackendConnection(Socket socket, int id) : IDisposable
{
    private readonly MemoryStream _received = new();
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    public int Id { get; } = id;

    public Socket Socket { get; } = socket;

    public string ReceivedText
    {
        get
        {
            lock (_received)
            {
                return Encoding.Latin1.GetString(_received.ToArray());
            }
        }
    }

    /// <summary>Reads one request head (up to the blank line); null on EOF. Does not read the body.</summary>
    public async Task<string?> ReadHeadAsync()
    {
        var sb = new StringBuilder();
        while (true)
        {
            var b = await ReadByteAsync();
            if (b < 0)
            {
                return null;
            }

            sb.Append((char)b);
            if (sb.Length >= 4 && sb[^1] == '\n' && sb[^2] == '\r' && sb[^3] == '\n' && sb[^4] == '\r')
            {
                return sb.ToString();
            }
        }
    }

    /// <summary>Reads a request head and its Content-Length body (if any). Returns the head or null on EOF.</summary>
    public async Task<string?> ReadRequestAsync()
    {
        var head = await ReadHeadAsync();
        if (head is null)
        {
            return null;
        }

        var cl = TestHttp.HeaderValue(head, "Content-Length");
        if (cl is not null)
        {
            await ReadExactAsync(long.Parse(cl, System.Globalization.CultureInfo.InvariantCulture));
        }

        return head;
    }

    public async Task<byte[]> ReadExactAsync(long count)
    {
        var result = new byte[count];
        var got = 0;
        while (got < count)
        {
            var b = await ReadByteAsync();
            if (b < 0)
            {
                throw new EndOfStreamException($"EOF after {got} of {count} body bytes");
            }

            result[got++] = (byte)b;
        }

        return result;
    }

    /// <summary>Reads and discards <paramref name="count"/> bytes without keeping them (large uploads).</summary>
    public async Task<long> DiscardAsync(long count)
    {
        long got = 0;
        while (got < count)
        {
            if (_start < _end)
            {
                var n = (int)Math.Min(_end - _start, count - got);
                _start += n;
                got += n;
                continue;
            }

            var read = await Socket.ReceiveAsync(_buffer.AsMemory(), SocketFlags.None);
            if (read == 0)
            {
                break;
            }

            _start = 0;
            _end = read;
        }

        return got;
    }

    public async Task<int> ReadByteAsync()
    {
        if (_start == _end)
        {
            int n;
            try
            {
                n = await Socket.ReceiveAsync(_buffer.AsMemory(), SocketFlags.None);
            }
            catch (SocketException)
            {
                return -1;
            }

            if (n == 0)
            {
                return -1;
            }

            lock (_received)
            {
                _received.Write(_buffer, 0, n);
            }

            _start = 0;
            _end = n;
        }

        return _buffer[_start++];
    }

    public Task WriteAsync(string text) => WriteAsync(Encoding.Latin1.GetBytes(text));

    public async Task WriteAsync(byte[] bytes) => await Socket.SendAsync(bytes, SocketFlags.None);

    /// <summary>Closes with RST.</summary>
    public void Reset()
    {
        Socket.LingerState = new LingerOption(true, 0);
        Socket.Dispose();
    }

    public void Dispose() => Socket.Dispose();
}
