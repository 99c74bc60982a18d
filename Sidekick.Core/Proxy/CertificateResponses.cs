using System.IO.Pipelines;

namespace Sidekick.Core.Proxy;

/// <summary>
/// <c>GET /v1/certificates</c> (F2): the auto-TLS certificate as PEM, or 404 <c>no configured certificates found</c>.
/// As the original: text/plain, no Server header; the 404 carries <c>X-Content-Type-Options: nosniff</c>.
/// </summary>
internal static class CertificateResponses
{
    private const string NotFoundBody = "no configured certificates found\n";

    /// <summary>Writes the answer; returns the bytes written.</summary>
    public static int Write(PipeWriter output, string? pem, bool close, bool omitBody) =>
        LocalResponses.Write(output, pem is null ? 404 : 200, "text/plain; charset=utf-8", pem ?? NotFoundBody, close, omitBody,
            extraHeaders: pem is null ? "X-Content-Type-Options: nosniff\r\n" : null, server: false);
}
