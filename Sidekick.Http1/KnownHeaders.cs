using System.Text;

namespace Sidekick.Http1;

/// <summary>Maps header names to <see cref="KnownHeader"/> as bytes: switch on length, then one ASCII case-insensitive compare.</summary>
internal static class KnownHeaders
{
    public static KnownHeader Lookup(ReadOnlySpan<byte> name) => name.Length switch
    {
        2 when Is(name, "TE"u8) => KnownHeader.TE,
        4 when Is(name, "Host"u8) => KnownHeader.Host,
        6 when Is(name, "Expect"u8) => KnownHeader.Expect,
        6 when Is(name, "Server"u8) => KnownHeader.Server,
        7 when Is(name, "Upgrade"u8) => KnownHeader.Upgrade,
        7 when Is(name, "Trailer"u8) => KnownHeader.Trailer,
        7 when Is(name, "X-Proxy"u8) => KnownHeader.XProxy,
        9 when Is(name, "X-Real-IP"u8) => KnownHeader.XRealIp,
        10 when Is(name, "Connection"u8) => KnownHeader.Connection,
        10 when Is(name, "Keep-Alive"u8) => KnownHeader.KeepAlive,
        14 when Is(name, "Content-Length"u8) => KnownHeader.ContentLength,
        15 when Is(name, "X-Forwarded-For"u8) => KnownHeader.XForwardedFor,
        16 when Is(name, "Proxy-Connection"u8) => KnownHeader.ProxyConnection,
        16 when Is(name, "X-Forwarded-Host"u8) => KnownHeader.XForwardedHost,
        17 when Is(name, "Transfer-Encoding"u8) => KnownHeader.TransferEncoding,
        17 when Is(name, "X-Forwarded-Proto"u8) => KnownHeader.XForwardedProto,
        18 when Is(name, "Proxy-Authenticate"u8) => KnownHeader.ProxyAuthenticate,
        19 when Is(name, "Proxy-Authorization"u8) => KnownHeader.ProxyAuthorization,
        _ => KnownHeader.None,
    };

    /// <summary>
    /// The fixed hop-by-hop set (RFC 9110 7.6.1, sidekick row E7). Content-Length is end-to-end.
    /// </summary>
    public static bool IsFixedHopByHop(KnownHeader kind) => kind is KnownHeader.Connection or KnownHeader.KeepAlive
        or KnownHeader.ProxyConnection or KnownHeader.TE or KnownHeader.Trailer or KnownHeader.TransferEncoding
        or KnownHeader.Upgrade or KnownHeader.ProxyAuthenticate or KnownHeader.ProxyAuthorization;

    /// <summary>ASCII case-insensitive equality (header names and list tokens are case-insensitive, RFC 9110 5.1).</summary>
    public static bool Is(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => Ascii.EqualsIgnoreCase(a, b);
}
