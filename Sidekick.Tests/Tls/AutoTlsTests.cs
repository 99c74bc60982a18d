using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Tls;

/// <summary>--auto-tls-host (H4) and /v1/certificates (F2) through the built executable; fatal TLS configuration errors.</summary>
public partial class AutoTlsTests
{
    [Test]
    public async Task Auto_tls_prints_the_original_announcement_and_serves_the_certificate()
    {
        await using var backend = FakeBackend.Ok("proxied");
        using var sidekick = SidekickProcess.Start("--address", "127.0.0.1:0", "--auto-tls-host", "localhost,127.0.0.1", backend.Url);
        var port = await sidekick.WaitListeningAsync();

        X509Certificate2? presented = null;
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
#pragma warning disable CA5359 // the test inspects the self-signed certificate itself
                RemoteCertificateValidationCallback = (_, cert, _, _) =>
                {
                    presented = new X509Certificate2((X509Certificate2)cert!);
                    return true;
                },
#pragma warning restore CA5359
            },
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(20) };
        using var response = await client.GetAsync($"https://127.0.0.1:{port}/v1/certificates");
        var pem = await response.Content.ReadAsStringAsync();

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.ToString().ShouldBe("text/plain; charset=utf-8");
        response.Headers.Contains("Server").ShouldBeFalse();
        pem.ShouldStartWith("-----BEGIN CERTIFICATE-----");
        using var served = X509Certificate2.CreateFromPem(pem);
        served.Thumbprint.ShouldBe(presented!.Thumbprint);
        served.PublicKey.GetECDsaPublicKey()!.KeySize.ShouldBe(256);
        served.Subject.ShouldBe("O=Acme Co");
        served.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames().ShouldBe(["localhost"]);
        served.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateIPAddresses().ShouldBe([IPAddress.Loopback]);

        var fingerprint = SHA256.HashData(served.RawData);
        var pin = Convert.ToBase64String(SHA256.HashData(served.PublicKey.ExportSubjectPublicKeyInfo()));
        var expected = "Generated TLS certificate for host 'localhost,127.0.0.1'\n\n"
            + "Certificate: " + string.Join(' ', fingerprint[..16].Select(b => b.ToString("X2"))) + "\n"
            + "             " + string.Join(' ', fingerprint[16..].Select(b => b.ToString("X2"))) + "\n"
            + "Public Key:  " + pin + "\n\n";
        sidekick.Stdout.ReplaceLineEndings("\n").ShouldContain(expected);

        // Other methods on the path are proxied.
        using var post = await client.PostAsync($"https://127.0.0.1:{port}/v1/certificates", new StringContent("x"));
        (await post.Content.ReadAsStringAsync()).ShouldBe("proxied");
    }

    [TestCase("--cacert", "unable to load CA certificate: open /nonexistent/ca.pem: no such file or directory")]
    [TestCase("--cert", "unable to load certificate: open /nonexistent/ca.pem: no such file or directory")]
    public async Task Unloadable_files_are_fatal_with_one_line(string flag, string message)
    {
        string[] args = flag == "--cert"
            ? [SidekickProcess.DllPath, "--address", "127.0.0.1:0", "--cert", "/nonexistent/ca.pem", "--key", "/nonexistent/key.pem", "http://127.0.0.1:1"]
            : [SidekickProcess.DllPath, "--address", "127.0.0.1:0", flag, "/nonexistent/ca.pem", "http://127.0.0.1:1"];
        var run = await Tool.RunAsync("dotnet", null, args);

        run.Exit.ShouldBe(1);
        run.Err.ShouldBe("sidekick: " + message + "\n");
    }

    [Test]
    public async Task An_encrypted_key_without_password_is_fatal_and_with_it_serves()
    {
        using var dir = new TestCertificates();
        using var leaf = TestCertificates.CreateLeaf(null);
        var cert = dir.Write("cert.pem", TestCertificates.CertPem(leaf));
        var key = dir.Write("key.pem", TestCertificates.EncryptedPkcs8Pem(leaf, "pw"));

        var run = await Tool.RunAsync("dotnet", null, SidekickProcess.DllPath, "--address", "127.0.0.1:0", "--cert", cert, "--key", key, "http://127.0.0.1:1");
        run.Exit.ShouldBe(1);
        run.Err.ShouldBe("sidekick: the private key is encrypted, please set the flag --key-password\n");

        using var sidekick = SidekickProcess.Start("--address", "127.0.0.1:0", "--cert", cert, "--key", key, "--key-password", "pw", "http://127.0.0.1:1");
        var port = await sidekick.WaitListeningAsync();
        using var client = TlsTerminationTests.ClientTrusting(leaf);
        using var health = await client.GetAsync($"https://localhost:{port}/v1/health");
        ((int)health.StatusCode).ShouldBeOneOf(200, 502); // answered over TLS (the backend is down)
    }
}
