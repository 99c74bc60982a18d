using System.Net;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Tls;

/// <summary>The two TLS handshake limits: a client that never completes its handshake, and a backend that never answers one.</summary>
public class HandshakeTimeoutTests
{
    [Test]
    public async Task ClientThatNeverSendsAClientHello_IsDisconnectedAfterTheHandshakeTimeout()
    {
        using var dir = new TestCertificates();
        using var leaf = TestCertificates.CreateLeaf(null);
        var cert = dir.Write("cert.pem", TestCertificates.CertPem(leaf));
        var key = dir.Write("key.pem", TestCertificates.TraditionalPem(leaf));
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start(
            o => o with { CertFile = cert, KeyFile = key, Limits = o.Limits with { TlsHandshakeTimeout = TimeSpan.FromMilliseconds(300) } },
            [backend.Url]);
        using var client = proxy.Connect(); // plain TCP: never starts TLS

        (await client.IsClosedAsync(5000)).ShouldBeTrue();
        proxy.Server.ConnectionCount.ShouldBe(0);
    }

    [Test]
    public async Task BackendThatNeverAnswersTheHandshake_Gives502AfterTheUpstreamHandshakeTimeout()
    {
        await using var silent = new FakeBackend(async c => await c.ReadByteAsync().ContinueWith(_ => Task.Delay(10_000)).Unwrap());
        await using var proxy = ProxyUnderTest.Start(
            o => o with { Limits = o.Limits with { UpstreamTlsHandshakeTimeout = TimeSpan.FromMilliseconds(300) } },
            [$"https://127.0.0.1:{silent.Port}"]);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        using var response = await http.GetAsync($"http://127.0.0.1:{proxy.Port}/o");

        response.StatusCode.ShouldBe(HttpStatusCode.BadGateway);
        (await response.Content.ReadAsStringAsync()).ShouldContain("TLS handshake timeout");
    }
}
