using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace Sidekick.Core.Proxy;

/// <summary>
/// <c>GET /v1/certificates</c> (F2): the auto-TLS certificate as PEM, or 404 <c>no configured certificates found</c>.
/// As the original: text/plain, no Server header; the 404 carries <c>X-Content-Type-Options: nosniff</c>.
/// </summary>
internal static class CertificateResponses
{
    private const string NotFoundBody = "no configured certificates found\n";

    /// <summary>Writes the answer; returns the bytes written.</summary>
    public static int Write(PipeWriter output, string? pem, bool close, bool omitBody)
    {
        var sb = new StringBuilder(256 + (pem?.Length ?? 0));
        var body = pem ?? NotFoundBody;
        sb.Append(pem is null ? "HTTP/1.1 404 Not Found\r\n" : "HTTP/1.1 200 OK\r\n");
        sb.Append("Content-Type: text/plain; charset=utf-8\r\n");
        if (pem is null)
        {
            sb.Append("X-Content-Type-Options: nosniff\r\n");
        }

        sb.Append("Content-Length: ").Append(Encoding.UTF8.GetByteCount(body)).Append("\r\n");
        if (close)
        {
            sb.Append("Connection: close\r\n");
        }

        sb.Append("\r\n");
        if (!omitBody)
        {
            sb.Append(body);
        }

        var text = sb.ToString();
        var n = Encoding.UTF8.GetBytes(text, output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length)));
        output.Advance(n);
        return n;
    }
}
