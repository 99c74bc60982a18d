using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Tls;

/// <summary>G4: TLS sessions to a backend are resumed, so a new upstream connection costs no full handshake.</summary>
public partial class SessionResumptionTests
{
    [Test]
    public async Task NewConnectionsToANamedHttpsBackend_ResumeTheTlsSession()
    {
        using var dir = new TestCertificates();
        using var leaf = TestCertificates.CreateLeaf(null);
        var cert = dir.Write("cert.pem", TestCertificates.CertPem(leaf));
        var key = dir.Write("key.pem", TestCertificates.TraditionalPem(leaf));
        // openssl s_server -www answers every request with a status page saying "New" or "Reused" for the
        // session, then closes: each request through sidekick needs a new upstream connection.
        var psi = new ProcessStartInfo("openssl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key, "-www" })
        {
            psi.ArgumentList.Add(a);
        }

        using var server = Process.Start(psi)!;
        try
        {
            int port = 0;
            using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            {
                while (port == 0 && await server.StandardOutput.ReadLineAsync(cts.Token) is { } line)
                {
                    var m = AcceptLine().Match(line);
                    if (m.Success)
                    {
                        port = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                    }
                }
            }

            port.ShouldBeGreaterThan(0);
            await using var proxy = ProxyUnderTest.Start(o => o with { Insecure = true }, [$"https://localhost:{port}"]);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

            var first = await http.GetStringAsync($"http://127.0.0.1:{proxy.Port}/");
            var second = await http.GetStringAsync($"http://127.0.0.1:{proxy.Port}/");

            first.ShouldContain("New, TLS");
            second.ShouldContain("Reused, TLS");
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [GeneratedRegex(@"^ACCEPT 127\.0\.0\.1:(\d+)")]
    private static partial Regex AcceptLine();
}
