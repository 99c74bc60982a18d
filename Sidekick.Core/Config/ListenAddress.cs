using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Sidekick.Core.Config;

/// <summary>--address in Go <c>host:port</c> syntax (A2): <c>:8080</c>, <c>127.0.0.1:9000</c>, <c>[::1]:8080</c>, port 0 allowed.</summary>
public static class ListenAddress
{
    /// <summary>
    /// Resolves the address to bind. An empty host means every interface, dual-stack (IPv6Any);
    /// <c>localhost</c> is the IPv4 loopback; other names are resolved, IPv4 first. Throws <see cref="ConfigException"/>.
    /// </summary>
    public static IPEndPoint Parse(string address, Func<string, IPAddress[]>? resolve = null, string flag = "--address")
    {
        ArgumentNullException.ThrowIfNull(address);
        var (host, portText) = SplitHostPort(address, flag);
        if (portText.Length == 0 || !portText.All(char.IsAsciiDigit)
            || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw Error(flag, address, $"invalid port \"{portText}\": must be a number in [0, 65535]");
        }

        if (host.Length == 0)
        {
            return new IPEndPoint(IPAddress.IPv6Any, port);
        }

        if (IPAddress.TryParse(host, out var ip) && (ip.AddressFamily == AddressFamily.InterNetworkV6 || host.Count(c => c == '.') == 3))
        {
            return new IPEndPoint(ip, port);
        }

        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        IPAddress[] addresses;
        try
        {
            addresses = (resolve ?? Dns.GetHostAddresses)(host);
        }
        catch (SocketException e)
        {
            throw Error(flag, address, $"unable to resolve host {host}: {e.Message}");
        }

        var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
        return chosen is null ? throw Error(flag, address, $"unable to resolve host {host}: no addresses") : new IPEndPoint(chosen, port);
    }

    // Go's net.SplitHostPort: IPv6 hosts need brackets; exactly one colon otherwise.
    private static (string Host, string Port) SplitHostPort(string address, string flag)
    {
        var colon = address.LastIndexOf(':');
        if (colon < 0)
        {
            throw Error(flag, address, "missing port in address");
        }

        if (address.StartsWith('['))
        {
            var close = address.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw Error(flag, address, "missing ']' in address");
            }

            if (close + 1 == address.Length)
            {
                throw Error(flag, address, "missing port in address");
            }

            if (close + 1 != colon)
            {
                throw Error(flag, address, "unexpected text after ']' in address");
            }

            var inner = address[1..close];
            if (!IPAddress.TryParse(inner, out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
            {
                throw Error(flag, address, $"invalid IPv6 address {inner}");
            }

            return (inner, address[(colon + 1)..]);
        }

        var host = address[..colon];
        if (host.Contains(':', StringComparison.Ordinal))
        {
            throw Error(flag, address, "too many colons in address");
        }

        if (host.Contains('[', StringComparison.Ordinal) || host.Contains(']', StringComparison.Ordinal))
        {
            throw Error(flag, address, "unexpected bracket in address");
        }

        return (host, address[(colon + 1)..]);
    }

    /// <summary>Names the flag the address came from (<c>--address</c>, <c>--pprof</c>).</summary>
    private static ConfigException Error(string flag, string address, string reason) => new($"invalid {flag} \"{address}\": {reason}");
}
