using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Sidekick.Tests.Support;

/// <summary>
/// An https backend on 127.0.0.1:0: answers every GET with 200 and a body naming the SNI it received and the
/// client certificate's subject. With <c>requireClientCertificate</c> a handshake without one fails.
/// </summary>
internal sealed class TlsBackend : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly X509Certificate2 _certificate;
    private readonly bool _requireClientCertificate;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private int _handshakes;
    private int _failedHandshakes;

    public TlsBackend(X509Certificate2 certificate, bool requireClientCertificate = false)
    {
        _certificate = certificate;
        _requireClientCertificate = requireClientCertificate;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(128);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _accept = AcceptAsync();
    }

    public int Port { get; }

    public string Url => $"https://127.0.0.1:{Port}";

    public int Handshakes => Volatile.Read(ref _handshakes);

    public int FailedHandshakes => Volatile.Read(ref _failedHandshakes);

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

            _ = Task.Run(() => ServeAsync(s));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var _ = socket;
        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = _certificate,
                ClientCertificateRequired = _requireClientCertificate,
                RemoteCertificateValidationCallback = (_, cert, _, _) => !_requireClientCertificate || cert is not null,
            }, timeout.Token);
            Interlocked.Increment(ref _handshakes);
        }
        catch (Exception)
        {
            Interlocked.Increment(ref _failedHandshakes);
            return;
        }

        try
        {
            var head = new StringBuilder();
            var one = new byte[1];
            while (!_stop.IsCancellationRequested)
            {
                head.Clear();
                while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
                {
                    if (await ssl.ReadAsync(one) == 0)
                    {
                        return;
                    }

                    head.Append((char)one[0]);
                    if (head.Length > 64 * 1024)
                    {
                        return;
                    }
                }

                var body = $"sni={ssl.TargetHostName};client={ssl.RemoteCertificate?.Subject ?? "none"};proto={ssl.SslProtocol}";
                var bytes = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n\r\n{body}");
                await ssl.WriteAsync(bytes);
            }
        }
        catch (Exception)
        {
            // The proxy closed the connection: fine.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accept;
        _stop.Dispose();
    }
}
