using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Sidekick.Core.Config;
using Sidekick.Core.Tls;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Tls;

/// <summary>TLS termination (H2, H3, A19, A26) with real clients: HttpClient, SslStream, curl, openssl s_client.</summary>
public partial class TlsTerminationTests
{
    internal static HttpClient ClientTrusting(X509Certificate2 root, ConcurrentBag<string>? seen = null, SslProtocols protocols = SslProtocols.None)
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(root);
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = policy,
                EnabledSslProtocols = protocols,
                RemoteCertificateValidationCallback = (_, cert, _, errors) =>
                {
                    seen?.Add(((X509Certificate2)cert!).Thumbprint);
                    return errors == SslPolicyErrors.None;
                },
            },
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(20) };
    }

    private static Func<SidekickOptions, SidekickOptions> Tls(string cert, string key, TlsMaxVersion max = TlsMaxVersion.Tls13) =>
        o => o with { CertFile = cert, KeyFile = key, TlsMax = max };

    [Test]
    public async Task HttpClient_gets_through_and_the_backend_sees_X_Forwarded_Proto_https()
    {
        using var dir = new TestCertificates();
        using var ca = TestCertificates.CreateCa();
        using var leaf = TestCertificates.CreateLeaf(ca, rsa: true);
        // A chain in the cert file and an RSA PKCS#1 key.
        var cert = dir.Write("cert.pem", TestCertificates.CertPem(leaf) + TestCertificates.CertPem(ca));
        var key = dir.Write("key.pem", TestCertificates.TraditionalPem(leaf));
        await using var backend = FakeBackend.Ok("hello");
        await using var proxy = ProxyUnderTest.Start(Tls(cert, key), [backend.Url]);
        using var client = ClientTrusting(ca);

        var response = await client.GetAsync($"https://localhost:{proxy.Port}/bucket/object");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).ShouldBe("hello");
        response.Version.ShouldBe(HttpVersion.Version11);
        backend.AllReceived.ShouldContain("X-Forwarded-Proto: https\r\n");

        var certificates = await client.GetAsync($"https://localhost:{proxy.Port}/v1/certificates");
        certificates.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await certificates.Content.ReadAsStringAsync()).ShouldBe("no configured certificates found\n");
        certificates.Headers.Contains("Server").ShouldBeFalse();
        certificates.Headers.GetValues("X-Content-Type-Options").ShouldBe(["nosniff"]);
    }

    [Test]
    public async Task Plain_listener_sends_X_Forwarded_Proto_http()
    {
        await using var backend = FakeBackend.Ok("hello");
        await using var proxy = ProxyUnderTest.Start([backend.Url]);
        using var client = new HttpClient();

        (await client.GetStringAsync($"http://127.0.0.1:{proxy.Port}/x")).ShouldBe("hello");

        backend.AllReceived.ShouldContain("X-Forwarded-Proto: http\r\n");
    }

    [Test]
    public async Task Alpn_picks_http11_and_tls13_is_the_default()
    {
        using var dir = new TestCertificates();
        using var leaf = TestCertificates.CreateLeaf(null);
        var (cert, key) = dir.WritePair(leaf);
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start(Tls(cert, key), [backend.Url]);

        await using var ssl = await HandshakeAsync(proxy.Port, SslProtocols.None);

        ssl.SslProtocol.ShouldBe(SslProtocols.Tls13);
        ssl.NegotiatedApplicationProtocol.ShouldBe(SslApplicationProtocol.Http11);
    }

    [Test]
    public async Task A_large_response_with_Connection_close_reaches_a_slow_TLS_client_whole()
    {
        using var dir = new TestCertificates();
        using var leaf = TestCertificates.CreateLeaf(null);
        var (cert, key) = dir.WritePair(leaf);
        var body = new byte[4 << 20];
        new Random(17).NextBytes(body);
        await using var backend = new FakeBackend(async c =>
        {
            if (await c.ReadRequestAsync() is null)
            {
                return;
            }

            await c.Socket.SendAsync(System.Text.Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
            await c.Socket.SendAsync(body);
        });
        await using var proxy = ProxyUnderTest.Start(Tls(cert, key), [backend.Url]);
        await using var ssl = await HandshakeAsync(proxy.Port, SslProtocols.None, receiveBufferSize: 64 * 1024);

        await ssl.WriteAsync("GET /big HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"u8.ToArray());
        await Task.Delay(1000); // the client reads nothing for a while: the proxy's last sends wait for room
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (received.Length < body.Length + 4096)
            {
                var n = await ssl.ReadAsync(buffer, timeout.Token);
                if (n == 0)
                {
                    break;
                }

                received.Write(buffer, 0, n);
            }
        }
        catch (IOException)
        {
            // a reset: the length check below tells what arrived
        }

        var all = received.ToArray();
        var headEnd = all.AsSpan().IndexOf("\r\n\r\n"u8);
        headEnd.ShouldBeGreaterThan(0);
        var got = all.AsSpan(headEnd + 4);
        got.Length.ShouldBe(body.Length, "the response was cut short when the connection closed");
        got.SequenceEqual(body).ShouldBeTrue();
    }

    [Test]
    public async Task Tls_max_12_caps_the_version()
    {
        using var dir = new TestCertificates();
        using var leaf = TestCertificates.CreateLeaf(null);
        var (cert, key) = dir.WritePair(leaf);
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start(Tls(cert, key, TlsMaxVersion.Tls12), [backend.Url]);

        await using (var ssl = await HandshakeAsync(proxy.Port, SslProtocols.None))
        {
            ssl.SslProtocol.ShouldBe(SslProtocols.Tls12);
        }

        await Should.ThrowAsync<Exception>(async () => await HandshakeAsync(proxy.Port, SslProtocols.Tls13));

        Tool.Exists("openssl").ShouldBeTrue("openssl is installed by build.sh");
        var tls13 = await Tool.RunAsync("openssl", "", "s_client", "-connect", $"127.0.0.1:{proxy.Port}", "-tls1_3");
        tls13.Exit.ShouldNotBe(0);
        var tls12 = await Tool.RunAsync("openssl", "", "s_client", "-connect", $"127.0.0.1:{proxy.Port}", "-tls1_2", "-alpn", "h2,http/1.1");
        tls12.Exit.ShouldBe(0, tls12.Err);
        tls12.Out.ShouldContain("Protocol  : TLSv1.2");
        tls12.Out.ShouldContain("ALPN protocol: http/1.1");
    }

    [Test]
    public async Task Curl_gets_through_with_the_ca()
    {
        Tool.Exists("curl").ShouldBeTrue("curl is installed by build.sh");
        using var dir = new TestCertificates();
        using var ca = TestCertificates.CreateCa();
        using var leaf = TestCertificates.CreateLeaf(ca);
        var (cert, key) = dir.WritePair(leaf);
        var caFile = dir.Write("ca.pem", TestCertificates.CertPem(ca));
        await using var backend = FakeBackend.Ok("from-backend");
        await using var proxy = ProxyUnderTest.Start(Tls(cert, key), [backend.Url]);

        var run = await Tool.RunAsync("curl", null, "-sS", "--max-time", "20", "--cacert", caFile,
            "-w", " %{http_code} %{http_version}", $"https://localhost:{proxy.Port}/b/o");

        run.Exit.ShouldBe(0, run.Err);
        run.Out.ShouldBe("from-backend 200 1.1");
    }

    [Test]
    public async Task Rewriting_the_files_during_traffic_switches_certificates_without_a_failed_request()
    {
        using var dir = new TestCertificates();
        using var ca = TestCertificates.CreateCa();
        using var first = TestCertificates.CreateLeaf(ca, cn: "first");
        using var second = TestCertificates.CreateLeaf(ca, rsa: true, cn: "second");
        var (cert, key) = dir.WritePair(first);
        await using var backend = FakeBackend.Ok("hello");
        await using var proxy = ProxyUnderTest.Start(Tls(cert, key), [backend.Url]);
        var seen = new ConcurrentBag<string>();
        using var client = ClientTrusting(ca, seen);
        var failures = new ConcurrentBag<string>();

        async Task<bool> OneRequest()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"https://localhost:{proxy.Port}/x");
            request.Headers.ConnectionClose = true; // every request a new handshake
            try
            {
                using var response = await client.SendAsync(request);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    failures.Add(response.StatusCode.ToString());
                }
            }
            catch (HttpRequestException e)
            {
                failures.Add(e.Message);
            }

            return seen.Contains(second.Thumbprint);
        }

        for (var i = 0; i < 5; i++)
        {
            await OneRequest();
        }

        // Rewrite both files in place (not atomically), as an operator or cert-manager would.
        File.WriteAllText(key, TestCertificates.Pkcs8Pem(second));
        File.WriteAllText(cert, TestCertificates.CertPem(second));

        var switched = false;
        for (var i = 0; i < 400 && !switched; i++)
        {
            switched = await OneRequest();
            if (!switched)
            {
                await Task.Delay(50);
            }
        }

        switched.ShouldBeTrue("the new certificate is presented after the poll");
        for (var i = 0; i < 5; i++)
        {
            await OneRequest();
        }

        failures.ShouldBeEmpty();
        seen.ShouldContain(first.Thumbprint);
        proxy.Server.Certificate!.Certificate.Thumbprint.ShouldBe(second.Thumbprint);
    }

    [Test]
    public void A_kubernetes_style_symlink_swap_is_seen_and_a_bad_file_keeps_the_last_good_certificate()
    {
        using var dir = new TestCertificates();
        using var first = TestCertificates.CreateLeaf(null, cn: "first");
        using var second = TestCertificates.CreateLeaf(null, cn: "second");
        var v1 = Path.Combine(dir.Directory, "..2026_01_01");
        var v2 = Path.Combine(dir.Directory, "..2026_01_02");
        Directory.CreateDirectory(v1);
        Directory.CreateDirectory(v2);
        File.WriteAllText(Path.Combine(v1, "tls.crt"), TestCertificates.CertPem(first));
        File.WriteAllText(Path.Combine(v1, "tls.key"), TestCertificates.Pkcs8Pem(first));
        File.WriteAllText(Path.Combine(v2, "tls.crt"), TestCertificates.CertPem(second));
        File.WriteAllText(Path.Combine(v2, "tls.key"), TestCertificates.Pkcs8Pem(second));
        // Same sizes and times would not be enough: copy the times so only the symlink target differs.
        foreach (var f in new[] { "tls.crt", "tls.key" })
        {
            File.SetLastWriteTimeUtc(Path.Combine(v2, f), File.GetLastWriteTimeUtc(Path.Combine(v1, f)));
        }

        var data = Path.Combine(dir.Directory, "..data");
        File.CreateSymbolicLink(data, "..2026_01_01");
        var certLink = Path.Combine(dir.Directory, "tls.crt");
        var keyLink = Path.Combine(dir.Directory, "tls.key");
        File.CreateSymbolicLink(certLink, "..data/tls.crt");
        File.CreateSymbolicLink(keyLink, "..data/tls.key");
        var warnings = new List<string>();
        using var server = ServerCertificate.FromOptions(new SidekickOptions { CertFile = certLink, KeyFile = keyLink }, TimeProvider.System, warnings.Add)!;
        server.Certificate.Thumbprint.ShouldBe(first.Thumbprint);

        // The kubelet's atomic swap: a new ..data link renamed over the old one.
        var tmp = Path.Combine(dir.Directory, "..data_tmp");
        File.CreateSymbolicLink(tmp, "..2026_01_02");
        Rename(tmp, data).ShouldBe(0);
        server.CheckForChanges();

        server.Certificate.Thumbprint.ShouldBe(second.Thumbprint);
        server.Reloads.ShouldBe(1);
        warnings.ShouldBeEmpty();

        // A broken key: the last good certificate stays, one warning says why, once.
        File.WriteAllText(Path.Combine(v2, "tls.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        server.CheckForChanges();
        server.CheckForChanges();

        server.Certificate.Thumbprint.ShouldBe(second.Thumbprint);
        server.Reloads.ShouldBe(1);
        warnings.Count.ShouldBe(1);
        warnings[0].ShouldStartWith("unable to reload the certificate, keeping the current one: ");
    }

    private static async Task<SslStream> HandshakeAsync(int port, SslProtocols protocols, int receiveBufferSize = 0)
    {
        var tcp = new TcpClient();
        if (receiveBufferSize > 0)
        {
            tcp.ReceiveBufferSize = receiveBufferSize;
        }

        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var ssl = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                EnabledSslProtocols = protocols,
                ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11],
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            }, timeout.Token);
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync();
            tcp.Dispose();
            throw;
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "rename", StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int Rename(string from, string to);
}
