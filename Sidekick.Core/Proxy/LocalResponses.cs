using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace Sidekick.Core.Proxy;

/// <summary>Responses sidekick writes itself: 502 XML (F3), /v1/health (F1), protocol errors.</summary>
internal static class LocalResponses
{
    private static readonly byte[] HealthOk = "HTTP/1.1 200 OK\r\nServer: SideKick\r\nContent-Length: 0\r\n\r\n"u8.ToArray();

    public static string ReasonPhrase(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    };

    /// <summary>The health answer while some site is online.</summary>
    public static int WriteHealthOk(PipeWriter output)
    {
        output.Write(HealthOk);
        return HealthOk.Length;
    }

    /// <summary>
    /// The original's 502 body (F3), fixed: XML-escaped path and message, and the Content-Type it meant to send.
    /// </summary>
    public static string BackendDownXml(string error, string path) =>
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>BackendDown</Code><Message>The remote server returned an error ("
        + Escape(error) + ")</Message><Resource>" + Escape(path) + "</Resource></Error>";

    /// <summary>Writes a complete response with a small body; returns the bytes written. <paramref name="server"/>: send <c>Server: SideKick</c>.</summary>
    public static int Write(PipeWriter output, int status, string contentType, string body, bool close, bool omitBody, string? extraHeaders = null, bool server = true)
    {
        var bodyBytes = Encoding.UTF8.GetByteCount(body);
        var sb = new StringBuilder(160 + (extraHeaders?.Length ?? 0));
        sb.Append("HTTP/1.1 ").Append(status).Append(' ').Append(ReasonPhrase(status)).Append("\r\n");
        if (server)
        {
            sb.Append("Server: SideKick\r\n");
        }

        if (extraHeaders is not null)
        {
            sb.Append(extraHeaders);
        }

        sb.Append("Content-Type: ").Append(contentType).Append("\r\n");
        sb.Append("Content-Length: ").Append(bodyBytes).Append("\r\n");
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

    /// <summary>Decodes %XX escapes of a request path for display (the original shows the decoded path).</summary>
    public static string DecodePath(ReadOnlySpan<byte> path)
    {
        var raw = Encoding.Latin1.GetString(path);
        try
        {
            return Uri.UnescapeDataString(raw);
        }
        catch (UriFormatException)
        {
            return raw;
        }
    }

    private static string Escape(string s)
    {
        if (s.AsSpan().IndexOfAny("<>&\"'") < 0)
        {
            return s;
        }

        var sb = new StringBuilder(s.Length + 16);
        foreach (var c in s)
        {
            sb.Append(c switch
            {
                '<' => "&lt;",
                '>' => "&gt;",
                '&' => "&amp;",
                '"' => "&quot;",
                '\'' => "&apos;",
                _ => c.ToString(),
            });
        }

        return sb.ToString();
    }
}
