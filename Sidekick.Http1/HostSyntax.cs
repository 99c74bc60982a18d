namespace Sidekick.Http1;

/// <summary>
/// Host = uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2): reg-name or IPv4 (unreserved / sub-delims /
/// pct-encoded), or an IP-literal in brackets; port = *DIGIT. An empty host is rejected.
/// </summary>
internal static class HostSyntax
{
    public static bool IsValid(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return false;
        }

        ReadOnlySpan<byte> port;
        if (value[0] == (byte)'[')
        {
            int close = value.IndexOf((byte)']');
            if (close < 2 || value[1..close].ContainsAnyExcept(HttpChars.Ipv6))
            {
                return false;
            }

            ReadOnlySpan<byte> after = value[(close + 1)..];
            if (after.IsEmpty)
            {
                return true;
            }

            if (after[0] != (byte)':')
            {
                return false;
            }

            port = after[1..];
        }
        else
        {
            int colon = value.IndexOf((byte)':');
            ReadOnlySpan<byte> host = colon < 0 ? value : value[..colon];
            if (host.IsEmpty || !IsRegName(host))
            {
                return false;
            }

            port = colon < 0 ? default : value[(colon + 1)..];
        }

        return !port.ContainsAnyExcept(HttpChars.Digit);
    }

    private static bool IsRegName(ReadOnlySpan<byte> host)
    {
        if (host.ContainsAnyExcept(HttpChars.RegName))
        {
            return false;
        }

        // pct-encoded = "%" HEXDIG HEXDIG
        for (int i = host.IndexOf((byte)'%'); i >= 0; i = NextPercent(host, i + 3))
        {
            if (i + 2 >= host.Length || HttpChars.HexValue(host[i + 1]) < 0 || HttpChars.HexValue(host[i + 2]) < 0)
            {
                return false;
            }
        }

        return true;
    }

    private static int NextPercent(ReadOnlySpan<byte> host, int from)
    {
        if (from >= host.Length)
        {
            return -1;
        }

        int i = host[from..].IndexOf((byte)'%');
        return i < 0 ? -1 : from + i;
    }
}
