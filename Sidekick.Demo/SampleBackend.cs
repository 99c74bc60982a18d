using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Sidekick.Demo;

/// <summary>
/// A tiny HTTP/1.1 server that answers every request with its own name (and 200 on /health). It can be
/// stopped and started again on the same port, to show failover and failback.
/// </summary>
internal sealed class SampleBackend : IAsyncDisposable
{
    private Socket? _listener;
    private CancellationTokenSource? _stop;
    private Task? _accept;
    private readonly List<Socket> _open = [];

    public SampleBackend(string name)
    {
        Name = name;
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Port = ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    public string Name { get; }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}";

    public bool Running => _listener is not null;

    public void Start()
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, Port));
        _listener.Listen(128);
        _stop = new CancellationTokenSource();
        _accept = AcceptAsync(_listener, _stop.Token);
    }

    public async Task StopAsync()
    {
        if (_listener is null)
        {
            return;
        }

        await _stop!.CancelAsync();
        _listener.Dispose();
        _listener = null;
        await _accept!;
        lock (_open)
        {
            // A crashed server: every connection it had goes away.
            foreach (var s in _open)
            {
                s.Dispose();
            }

            _open.Clear();
        }
    }

    private async Task AcceptAsync(Socket listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket s;
            try
            {
                s = await listener.AcceptAsync(ct);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            lock (_open)
            {
                _open.Add(s);
            }

            _ = ServeAsync(s);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        var buffer = new byte[8192];
        var pending = new StringBuilder();
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None);
                if (n == 0)
                {
                    return;
                }

                pending.Append(Encoding.ASCII.GetString(buffer, 0, n));
                int end;
                while ((end = pending.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal)) >= 0)
                {
                    var head = pending.ToString(0, end);
                    pending.Remove(0, end + 4);
                    var body = head.Contains(" /health ", StringComparison.Ordinal) ? "ok" : Name + "\n";
                    var response = $"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n\r\n{body}";
                    await socket.SendAsync(Encoding.ASCII.GetBytes(response), SocketFlags.None);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            lock (_open)
            {
                _open.Remove(socket);
            }

            socket.Dispose();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
