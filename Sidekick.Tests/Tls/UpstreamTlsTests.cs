using System.Collections.Immutable;
using System.Net;
using Sidekick.Core;
using Sidekick.Core.Config;
using Sidekick.Tests.NameResolution;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Tls;

/// <summary>TLS to https backends (G4, A9, A17, A18): verification, --cacert, --insecure, mTLS, SNI, health probes.</summary>
public class UpstreamTlsTests
{
    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(ProxyUnderTest proxy, string path = "/o")
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var response = await client.GetAsync($"http://127.0.0.1:{proxy.Port}{path}");
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Self_signed_backend_fails_without_insecure_and_works_with_it()
    {
        using var leaf = TestCertificates.CreateLeaf(null);
        await using var backend = new TlsBackend(leaf);

        await using (var strict = ProxyUnderTest.Start([backend.Url]))
        {
            var (status, body) = await GetAsync(strict);
            status.ShouldBe(HttpStatusCode.BadGateway);
            body.ShouldContain("x509: certificate signed by unknown authority");
        }

        await using var insecure = ProxyUnderTest.Start(o => o with { Insecure = true }, [backend.Url]);
        var ok = await GetAsync(insecure);
        ok.Status.ShouldBe(HttpStatusCode.OK);
        ok.Body.ShouldStartWith("sni=;"); // an IP literal host sends no SNI
    }

    [Test]
    public void Verification_never_downloads_an_intermediate_with_the_system_roots_or_with_cacert()
    {
        // As Go's client (no AIA fetching), and the handshake runs on the epoll loop, which a download would block.
        using var dir = new TestCertificates();
        using var ca = TestCertificates.CreateCa();
        var caFile = dir.Write("ca.pem", TestCertificates.CertPem(ca));
        var system = Sidekick.Core.Tls.UpstreamTls.FromOptions(new SidekickOptions());
        var custom = Sidekick.Core.Tls.UpstreamTls.FromOptions(new SidekickOptions { CaCertFile = caFile });

        foreach (var (tls, trust) in new[] { (system, System.Security.Cryptography.X509Certificates.X509ChainTrustMode.System), (custom, System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust) })
        {
            var policy = tls.ClientOptions("backend", new Sidekick.Core.Tls.StrongBox<string?>()).CertificateChainPolicy;
            policy.ShouldNotBeNull();
            policy.DisableCertificateDownloads.ShouldBeTrue();
            policy.TrustMode.ShouldBe(trust);
        }
    }

    [Test]
    public void Renegotiation_is_refused_as_by_the_originals_go_client_and_server()
    {
        // A renegotiation would make SslStream write from its read side, beside a write in progress.
        Sidekick.Core.Tls.UpstreamTls.FromOptions(new SidekickOptions())
            .ClientOptions("backend", new Sidekick.Core.Tls.StrongBox<string?>()).AllowRenegotiation.ShouldBeFalse();

        using var dir = new TestCertificates();
        using var leaf = TestCertificates.CreateLeaf(null);
        var options = new SidekickOptions
        {
            CertFile = dir.Write("tls.crt", TestCertificates.CertPem(leaf)),
            KeyFile = dir.Write("tls.key", TestCertificates.Pkcs8Pem(leaf)),
        };
        using var server = Sidekick.Core.Tls.ServerCertificate.FromOptions(options, TimeProvider.System, _ => { });
        server.ShouldNotBeNull();
        server.ServerOptions().AllowRenegotiation.ShouldBeFalse();
    }

    [Test]
    public async Task Cacert_replaces_the_system_roots()
    {
        using var dir = new TestCertificates();
        using var ca = TestCertificates.CreateCa();
        using var other = TestCertificates.CreateCa("Another CA");
        using var leaf = TestCertificates.CreateLeaf(ca);
        await using var backend = new TlsBackend(leaf);
        var caFile = dir.Write("ca.pem", TestCertificates.CertPem(ca));
        var otherFile = dir.Write("other.pem", TestCertificates.CertPem(other));

        await using (var good = ProxyUnderTest.Start(o => o with { CaCertFile = caFile }, [backend.Url]))
        {
            (await GetAsync(good)).Status.ShouldBe(HttpStatusCode.OK);
        }

        await using var wrong = ProxyUnderTest.Start(o => o with { CaCertFile = otherFile }, [backend.Url]);
        (await GetAsync(wrong)).Status.ShouldBe(HttpStatusCode.BadGateway);
    }

    [Test]
    public async Task Mtls_backend_accepts_the_client_certificate_and_rejects_a_proxy_without_one()
    {
        using var dir = new TestCertificates();
        using var ca = TestCertificates.CreateCa();
        using var serverLeaf = TestCertificates.CreateLeaf(ca);
        using var clientLeaf = TestCertificates.CreateLeaf(ca, cn: "sidekick-client", clientAuth: true);
        await using var backend = new TlsBackend(serverLeaf, requireClientCertificate: true);
        var caFile = dir.Write("ca.pem", TestCertificates.CertPem(ca));
        var (clientCert, clientKey) = dir.WritePair(clientLeaf, "client-");

        await using (var withCert = ProxyUnderTest.Start(o => o with { CaCertFile = caFile, ClientCertFile = clientCert, ClientKeyFile = clientKey }, [backend.Url]))
        {
            var (status, body) = await GetAsync(withCert);
            status.ShouldBe(HttpStatusCode.OK);
            body.ShouldContain("client=CN=sidekick-client");
        }

        await using (var without = ProxyUnderTest.Start(o => o with { CaCertFile = caFile }, [backend.Url]))
        {
            (await GetAsync(without)).Status.ShouldBe(HttpStatusCode.BadGateway);
            backend.FailedHandshakes.ShouldBeGreaterThan(0);
        }

    }

    [Test]
    public async Task Sni_and_verification_use_the_host_name_resolved_through_the_cache()
    {
        using var dir = new TestCertificates();
        using var ca = TestCertificates.CreateCa();
        using var leaf = TestCertificates.CreateLeaf(ca, extraNames: "minio.test");
        await using var backend = new TlsBackend(leaf);
        var caFile = dir.Write("ca.pem", TestCertificates.CertPem(ca));
        var resolver = new FakeResolver();
        resolver.Set("minio.test", IPAddress.Loopback);

        await using var proxy = ProxyUnderTest.Start(o => o with { CaCertFile = caFile, DnsResolver = resolver }, [$"https://minio.test:{backend.Port}"]);
        var (status, body) = await GetAsync(proxy);

        status.ShouldBe(HttpStatusCode.OK);
        body.ShouldStartWith("sni=minio.test;");
    }

    [Test]
    public async Task Health_probes_use_the_same_tls_settings()
    {
        using var leaf = TestCertificates.CreateLeaf(null);
        await using var backend = new TlsBackend(leaf);
        var url = backend.Url;
        var site = new SiteOptions(1, url, [new BackendOptions(url, new Uri(url), new Uri(url + "/health"))]);
        SidekickOptions Options(bool insecure) => new()
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            Sites = [site],
            Insecure = insecure,
        };

        await using (var strict = ProxyServer.Start(Options(false)))
        {
            await strict.FirstHealthRound.WaitAsync(TimeSpan.FromSeconds(30));
            strict.Table.Sites[0].Backends[0].IsOnline.ShouldBeFalse();
            strict.Table.Sites[0].Backends[0].LastError!.ShouldContain("x509");
        }

        await using var insecure = ProxyServer.Start(Options(true));
        await insecure.FirstHealthRound.WaitAsync(TimeSpan.FromSeconds(30));
        insecure.Table.Sites[0].Backends[0].IsOnline.ShouldBeTrue();
    }
}
