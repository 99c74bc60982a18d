using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sidekick.Tests.Support;

/// <summary>A parsed response as the client saw it.</summary>
internal sealed record TestResponse(int Status, string Head, byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);

    public string? Header(string name) => TestHttp.HeaderValue(Head, name);

    public IReadOnlyList<string> Headers(string name) => TestHttp.HeaderValues(Head, name);
}

/// <summary>A raw client: exact bytes out, responses parsed strictly enough to assert on.</summary>
internal sealed class RawClient : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    public RawClient(int port, int receiveBufferSize = 0)
    {
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferSize > 0)
        {
            _socket.ReceiveBufferSize = receiveBufferSize; // before the connect: it sets the window offered
        }

        _socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
    }

    public Socket Socket => _socket;

    public Task SendAsync(string text) => SendAsync(Encoding.Latin1.GetBytes(text));

    public async Task SendAsync(byte[] bytes) => await _socket.SendAsync(bytes, SocketFlags.None);

    /// <summary>Reads one response (head + body by its framing); <paramref name="headRequest"/> means no body.</summary>
    public async Task<TestResponse> ReadResponseAsync(bool headRequest = false, int timeoutMs = 10_000)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        var head = await ReadLineBlockAsync(cts.Token) ?? throw new EndOfStreamException("connection closed before a response");
        var status = int.Parse(head.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
        if (headRequest || status is 204 or 304 or (>= 100 and < 200))
        {
            return new TestResponse(status, head, []);
        }

        var te = TestHttp.HeaderValue(head, "Transfer-Encoding");
        var cl = TestHttp.HeaderValue(head, "Content-Length");
        var body = new MemoryStream();
        if (te is not null && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (true)
            {
                var sizeLine = await ReadLineAsync(cts.Token) ?? throw new EndOfStreamException("EOF in chunk size");
                var semi = sizeLine.IndexOf(';', StringComparison.Ordinal);
                var size = Convert.ToInt64(semi >= 0 ? sizeLine[..semi] : sizeLine, 16);
                if (size == 0)
                {
                    // trailers until blank line
                    while ((await ReadLineAsync(cts.Token) ?? "") != "")
                    {
                    }

                    break;
                }

                body.Write(await ReadExactAsync(size, cts.Token));
                await ReadLineAsync(cts.Token);
            }
        }
        else if (cl is not null)
        {
            body.Write(await ReadExactAsync(long.Parse(cl, System.Globalization.CultureInfo.InvariantCulture), cts.Token));
        }
        else
        {
            body.Write(await ReadToEndAsync(cts.Token));
        }

        return new TestResponse(status, head, body.ToArray());
    }

    /// <summary>Reads whatever arrives until EOF (or reset), bounded by the timeout.</summary>
    public async Task<byte[]> ReadToEndAsync(CancellationToken ct)
    {
        var ms = new MemoryStream();
        ms.Write(_buffer, _start, _end - _start);
        _start = _end = 0;
        while (true)
        {
            int n;
            try
            {
                n = await _socket.ReceiveAsync(_buffer.AsMemory(), SocketFlags.None, ct);
            }
            catch (SocketException)
            {
                break;
            }

            if (n == 0)
            {
                break;
            }

            ms.Write(_buffer, 0, n);
        }

        return ms.ToArray();
    }

    /// <summary>
    /// Reads until the connection ends, bounded by the timeout, and says how: Success for the end of the stream (a
    /// FIN), ConnectionReset for a reset, TimedOut when it did not end. What arrives before is discarded.
    /// </summary>
    public async Task<SocketError> ReadUntilEndAsync(int timeoutMs = 5000)
    {
        _start = _end = 0;
        using var cts = new CancellationTokenSource(timeoutMs);
        try
        {
            for (var i = 0; i < 100_000; i++)
            {
                if (await _socket.ReceiveAsync(_buffer.AsMemory(), SocketFlags.None, cts.Token) == 0)
                {
                    return SocketError.Success;
                }
            }

            return SocketError.TimedOut;
        }
        catch (SocketException ex)
        {
            return ex.SocketErrorCode;
        }
        catch (OperationCanceledException)
        {
            return SocketError.TimedOut;
        }
    }

    /// <summary>True when the server closed (EOF or reset) within the timeout.</summary>
    public async Task<bool> IsClosedAsync(int timeoutMs = 5000)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        try
        {
            var rest = await ReadToEndAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async Task<byte[]> ReadExactAsync(long count, CancellationToken ct)
    {
        var result = new byte[count];
        long got = 0;
        while (got < count)
        {
            if (_start == _end && !await FillAsync(ct))
            {
                throw new EndOfStreamException($"EOF after {got} of {count} bytes");
            }

            var n = (int)Math.Min(_end - _start, count - got);
            Array.Copy(_buffer, _start, result, got, n);
            _start += n;
            got += n;
        }

        return result;
    }

    public async Task<string?> ReadLineAsync(CancellationToken ct)
    {
        var sb = new StringBuilder();
        while (true)
        {
            if (_start == _end && !await FillAsync(ct))
            {
                return sb.Length == 0 ? null : throw new EndOfStreamException("EOF mid-line: " + sb);
            }

            var c = (char)_buffer[_start++];
            if (c == '\n')
            {
                return sb.ToString().TrimEnd('\r');
            }

            sb.Append(c);
        }
    }

    private async Task<string?> ReadLineBlockAsync(CancellationToken ct)
    {
        var sb = new StringBuilder();
        while (true)
        {
            var line = await ReadLineAsync(ct);
            if (line is null)
            {
                return sb.Length == 0 ? null : throw new EndOfStreamException("EOF mid-head: " + sb);
            }

            if (line.Length == 0)
            {
                return sb.ToString();
            }

            sb.Append(line).Append("\r\n");
        }
    }

    private async Task<bool> FillAsync(CancellationToken ct)
    {
        int n;
        try
        {
            n = await _socket.ReceiveAsync(_buffer.AsMemory(), SocketFlags.None, ct);
        }
        catch (SocketException)
        {
            return false;
        }

        _start = 0;
        _end = n;
        return n > 0;
    }

    public void Dispose() => _socket.Dispose();
}

internal static class TestHttp
{
    public static string? HeaderValue(string head, string name) => HeaderValues(head, name).FirstOrDefault();

    public static IReadOnlyList<string> HeaderValues(string head, string name)
    {
        var list = new List<string>();
        foreach (var line in head.Split("\r\n"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line.AsSpan(0, colon).Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                list.Add(line[(colon + 1)..].Trim());
            }
        }

        return list;
    }
}
