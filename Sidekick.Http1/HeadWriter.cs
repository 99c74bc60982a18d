using System.Buffers;

namespace Sidekick.Http1;

/// <summary>Writes rewritten heads (RFC 9110 section 7.6.1 hop-by-hop rules, sidekick rows E1-E7, E13, E14).</summary>
public static class HeadWriter
{
    /// <summary>
    /// Writes the request head to send upstream: "METHOD origin-form HTTP/1.1", headers minus hop-by-hop ones,
    /// "TE: trailers" when asked, "Transfer-Encoding: chunked" when chunked, "Connection: Upgrade" + "Upgrade" for
    /// upgrades, X-Forwarded-For (client values folded, then <paramref name="peerIp"/>), X-Real-IP, X-Forwarded-Host and
    /// X-Forwarded-Proto replaced, Content-Length once. Host: forwarded unchanged (effective host for absolute-form).
    /// Returns the number of bytes written. <paramref name="defaultHost"/> is sent as Host when the request has none
    /// (an HTTP/1.0 client may omit it; HTTP/1.1 upstream requires one, RFC 9112 3.2).
    /// </summary>
    public static int WriteRequest(IBufferWriter<byte> output, RequestHead head, ReadOnlySpan<byte> peerIp, ReadOnlySpan<byte> realIp, ReadOnlySpan<byte> proto, ReadOnlySpan<byte> defaultHost = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(head);
        var o = new HeadOutput(output);

        // Always HTTP/1.1 upstream: the proxy speaks 1.1 to backends whatever the client spoke (RFC 9110 6.2).
        o.Write(head.Method);
        o.Write(" "u8);
        o.Write(head.OriginForm);
        o.Write(" HTTP/1.1\r\n"u8);

        // E1: Host unchanged (S3 signatures). For absolute-form, the target's authority is the host (RFC 9112 3.2.2).
        var host = head.Host.IsEmpty ? defaultHost : head.Host;
        bool hostWritten = !head.IsAbsoluteForm;
        if ((!hostWritten || head.Host.IsEmpty) && !HasHeader(head, KnownHeader.Host) && !host.IsEmpty)
        {
            o.Header("Host"u8, host);
            hostWritten = true;
        }

        bool sawForwardedFor = false;
        bool contentLengthDone = false;
        int count = head.HeaderCount;
        for (int i = 0; i < count; i++)
        {
            KnownHeader kind = head.HeaderKind(i);
            // E3, E4 fixed (gap 9): the client's X-Real-IP and X-Forwarded-Host are replaced, as X-Forwarded-Proto is;
            // a backend reading the first line would otherwise take a value the client made up.
            if (head.IsHopByHop(i) || kind is KnownHeader.XForwardedProto or KnownHeader.XRealIp or KnownHeader.XForwardedHost)
            {
                continue;
            }

            if (kind == KnownHeader.ContentLength)
            {
                WriteContentLength(ref o, head.HeaderValue(i), ref contentLengthDone);
                continue;
            }

            if (kind == KnownHeader.XForwardedFor)
            {
                sawForwardedFor = true;
                continue;
            }

            if (kind == KnownHeader.Host && head.IsAbsoluteForm)
            {
                if (!hostWritten)
                {
                    o.Header("Host"u8, head.Host);
                    hostWritten = true;
                }

                continue;
            }

            o.Header(head.HeaderName(i), head.HeaderValue(i));
        }

        // E7: hop-by-hop fields are re-created for this hop only where the semantics need them.
        if (head.TeTrailers)
        {
            o.Write("TE: trailers\r\n"u8);
        }

        if (head.Framing == BodyFraming.Chunked)
        {
            o.Write("Transfer-Encoding: chunked\r\n"u8);
        }

        if (head.IsUpgrade)
        {
            o.Write("Connection: Upgrade\r\n"u8);
            o.Header("Upgrade"u8, head.UpgradeValue);
        }

        // E5: client X-Forwarded-For values folded into one line, then the socket peer.
        o.Write("X-Forwarded-For: "u8);
        if (sawForwardedFor)
        {
            for (int i = 0; i < count; i++)
            {
                if (head.HeaderKind(i) != KnownHeader.XForwardedFor)
                {
                    continue;
                }

                ReadOnlySpan<byte> value = head.HeaderValue(i);
                if (!value.IsEmpty)
                {
                    o.Write(value);
                    o.Write(", "u8);
                }
            }
        }

        o.Write(peerIp);
        o.Write("\r\n"u8);

        // E3, E4: ours, in place of the client's.
        o.Header("X-Real-IP"u8, realIp);
        o.Header("X-Forwarded-Host"u8, host);
        o.Header("X-Forwarded-Proto"u8, proto);
        o.Write("\r\n"u8);
        return o.Commit();
    }

    /// <summary>
    /// Writes the response head for the client: "HTTP/1.1 code reason", "Server: SideKick" first, backend headers minus
    /// hop-by-hop ones and minus X-Proxy, "X-Proxy: true", framing headers, and Connection: close / keep-alive (for a
    /// 1.0 client) / Upgrade (101). Returns the number of bytes written.
    /// </summary>
    public static int WriteResponse(IBufferWriter<byte> output, ResponseHead head, bool keepAlive, bool clientIsHttp10)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(head);
        var o = new HeadOutput(output);
        o.Write("HTTP/1.1 "u8);
        o.StatusCode(head.StatusCode);
        o.Write(" "u8);
        o.Write(head.Reason);
        o.Write("\r\n"u8);

        // Interim responses (100, 103) are relayed as they are, minus hop-by-hop fields; the final response
        // carries the proxy's own fields.
        bool interim = head.StatusCode < 200 && head.StatusCode != 101;
        if (!interim)
        {
            // E14: ours first, the backend's Server lines follow.
            o.Write("Server: SideKick\r\n"u8);
        }

        // RFC 9110 8.6: no Content-Length in a 1xx or 204 response.
        bool contentLengthDone = head.StatusCode is < 200 or 204;
        int count = head.HeaderCount;
        for (int i = 0; i < count; i++)
        {
            KnownHeader kind = head.HeaderKind(i);
            if (head.IsHopByHop(i) || kind == KnownHeader.XProxy)
            {
                continue;
            }

            if (kind == KnownHeader.ContentLength)
            {
                WriteContentLength(ref o, head.HeaderValue(i), ref contentLengthDone);
                continue;
            }

            o.Header(head.HeaderName(i), head.HeaderValue(i));
        }

        if (!interim)
        {
            // E13: X-Proxy replaces whatever the backend said.
            o.Write("X-Proxy: true\r\n"u8);
            // An HTTP/1.0 client cannot read chunked (RFC 9112 7): the caller sends the data de-chunked and closes.
            if (head.Framing == BodyFraming.Chunked && !clientIsHttp10)
            {
                o.Write("Transfer-Encoding: chunked\r\n"u8);
            }

            if (head.IsUpgrade)
            {
                o.Write("Connection: Upgrade\r\n"u8);
                if (!head.UpgradeValue.IsEmpty)
                {
                    o.Header("Upgrade"u8, head.UpgradeValue);
                }
            }
            else if (!keepAlive)
            {
                o.Write("Connection: close\r\n"u8);
            }
            else if (clientIsHttp10)
            {
                // RFC 9112 9.3: a 1.0 client only keeps the connection when told so.
                o.Write("Connection: keep-alive\r\n"u8);
            }
        }

        o.Write("\r\n"u8);
        return o.Commit();
    }

    /// <summary>
    /// Content-Length goes on once, as one number: the parser accepted repeats and lists only when every value is the
    /// same (RFC 9110 8.6), and a recipient that does not expect "3, 3" or two lines would reject the message or, worse,
    /// take another length than ours.
    /// </summary>
    private static void WriteContentLength(ref HeadOutput o, ReadOnlySpan<byte> value, ref bool done)
    {
        if (done)
        {
            return;
        }

        var list = new ListReader(value);
        if (list.TryNext(out ReadOnlySpan<byte> first))
        {
            o.Header("Content-Length"u8, first);
            done = true;
        }
    }

    private static bool HasHeader(MessageHead head, KnownHeader kind)
    {
        for (int i = 0; i < head.HeaderCount; i++)
        {
            if (head.HeaderKind(i) == kind)
            {
                return true;
            }
        }

        return false;
    }
}
