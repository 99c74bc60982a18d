using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Sidekick.Core.Config;

/// <summary>The parts of a validated <c>http[s]://host[:port][/path]</c> URL.</summary>
/// <param name="Scheme">"http" or "https", lower case.</param>
/// <param name="Host">Host name or IP literal, without brackets.</param>
/// <param name="Port">Explicit port, or 0 when the URL has none.</param>
/// <param name="PathAndQuery">Everything after the authority, possibly empty.</param>
internal readonly record struct UrlParts(string Scheme, string Host, int Port, string PathAndQuery)
{
    public bool IsIPv6 => Host.Contains(':', StringComparison.Ordinal);

    public string Authority(int port) =>
        (IsIPv6 ? "[" + Host + "]" : Host) + (port == 0 ? string.Empty : ":" + port.ToString(CultureInfo.InvariantCulture));
}

/// <summary>Endpoint validation (B5) and parsing of the strict URL form minio/pkg accepts (B7).</summary>
public static partial class Endpoints
{
    /// <summary>
    /// Validates one expanded endpoint and builds its backend options: one trailing '/' trimmed, scheme http or
    /// https (none means http, as Go's url.Parse + sidekick do), host required, host and port strictly checked.
    /// </summary>
    public static BackendOptions Parse(string endpoint, string healthPath, int healthPort)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var trimmed = endpoint.EndsWith('/') ? endpoint[..^1] : endpoint;
        var parts = Split(trimmed);
        Uri uri;
        try
        {
            uri = new Uri(parts.Scheme + "://" + parts.Authority(parts.Port) + parts.PathAndQuery, UriKind.Absolute);
        }
        catch (UriFormatException e)
        {
            throw new ConfigException($"invalid endpoint {trimmed}: {e.Message}", e);
        }

        return new BackendOptions(trimmed, uri, HealthUrl.Build(trimmed, healthPath, healthPort));
    }

    /// <summary>Splits and checks a URL; the error messages name <paramref name="url"/>.</summary>
    internal static UrlParts Split(string url)
    {
        var scheme = string.Empty;
        var rest = url;
        if (SchemePrefix().Match(url) is { Success: true } m)
        {
            scheme = m.Groups[1].Value.ToLowerInvariant();
            rest = url[m.Length..];
        }

        if (scheme.Length == 0)
        {
            scheme = "http";
        }
        else if (scheme is not ("http" or "https"))
        {
            throw new ConfigException($"unexpected scheme {scheme} in {url}, please use 'http' or 'https'");
        }

        if (!rest.StartsWith("//", StringComparison.Ordinal))
        {
            throw MissingHost(url);
        }

        rest = rest[2..];
        var end = rest.IndexOfAny(['/', '?', '#']);
        var authority = end < 0 ? rest : rest[..end];
        var pathAndQuery = end < 0 ? string.Empty : rest[end..];
        if (pathAndQuery.Contains('#', StringComparison.Ordinal))
        {
            throw new ConfigException($"invalid endpoint {url}: a fragment is not allowed");
        }

        if (authority.Contains('@', StringComparison.Ordinal))
        {
            throw new ConfigException($"invalid endpoint {url}: user information is not supported");
        }

        var (host, portText) = SplitAuthority(authority, url);
        if (host.Length == 0)
        {
            throw MissingHost(url);
        }

        if (!IsValidHost(host, bracketed: authority.StartsWith('[')))
        {
            throw new ConfigException($"invalid endpoint {url}: invalid host name {host}");
        }

        var port = 0;
        if (portText.Length > 0 && (!portText.All(char.IsAsciiDigit)
            || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            throw new ConfigException($"invalid endpoint {url}: port {portText} must be a number in [1, 65535]");
        }

        return new UrlParts(scheme, host, port, pathAndQuery);
    }

    private static (string Host, string Port) SplitAuthority(string authority, string url)
    {
        if (authority.StartsWith('['))
        {
            var close = authority.IndexOf(']', StringComparison.Ordinal);
            var after = close < 0 ? string.Empty : authority[(close + 1)..];
            if (close < 0 || (after.Length > 0 && after[0] != ':'))
            {
                throw new ConfigException($"invalid endpoint {url}: bad IPv6 address in brackets");
            }

            return (authority[1..close], after.Length > 0 ? after[1..] : string.Empty);
        }

        var colon = authority.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return (authority, string.Empty);
        }

        if (authority.IndexOf(':', colon + 1) >= 0)
        {
            throw new ConfigException($"invalid endpoint {url}: an IPv6 address must be in brackets");
        }

        return (authority[..colon], authority[(colon + 1)..]);
    }

    // minio/pkg isValidHost: an IP, or a host name of 1..253 characters whose labels are 1..63 letters,
    // digits and inner hyphens.
    private static bool IsValidHost(string host, bool bracketed)
    {
        if (bracketed)
        {
            var zone = host.IndexOf('%', StringComparison.Ordinal);
            return IPAddress.TryParse(zone < 0 ? host : host[..zone], out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6;
        }

        if (IPAddress.TryParse(host, out var ip) && ip.AddressFamily == AddressFamily.InterNetwork)
        {
            return true;
        }

        return host.Length is >= 1 and <= 253 && host.Split('.').All(label => label.Length is >= 1 and <= 63 && HostLabel().IsMatch(label));
    }

    private static ConfigException MissingHost(string url) => new($"missing host address {url}, please use 'sidekick --help'");

    [GeneratedRegex("^([A-Za-z][A-Za-z0-9+.-]*):", RegexOptions.CultureInvariant)]
    private static partial Regex SchemePrefix();

    [GeneratedRegex("^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex HostLabel();
}

/// <summary>Health-check URL construction (A3, A5, B6, B7).</summary>
public static class HealthUrl
{
    /// <summary>A3: a missing leading '/' is added; empty becomes '/'.</summary>
    public static string NormalisePath(string? path) =>
        string.IsNullOrEmpty(path) ? "/" : path.StartsWith('/') ? path : "/" + path;

    /// <summary>A5: 0 keeps the endpoint's port; anything outside [0, 65535] is fatal.</summary>
    public static void CheckPort(int healthPort)
    {
        if (healthPort is < 0 or > 65535)
        {
            throw new ConfigException(string.Create(CultureInfo.InvariantCulture, $"invalid health check port \"{healthPort}\": must be in [0, 65535]"));
        }
    }

    /// <summary>
    /// endpoint (with any path prefix, B6) + health path; the path cleaned like Go's path.Clean with a trailing
    /// slash kept, the scheme's default port dropped, and the port replaced by <paramref name="healthPort"/> unless 0.
    /// </summary>
    public static Uri Build(string endpoint, string healthPath, int healthPort)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        CheckPort(healthPort);
        var text = endpoint.EndsWith('/') ? endpoint[..^1] : endpoint;
        text += NormalisePath(healthPath);
        var parts = Endpoints.Split(text);
        var query = parts.PathAndQuery.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? parts.PathAndQuery : parts.PathAndQuery[..query];
        var tail = query < 0 ? string.Empty : parts.PathAndQuery[query..];
        if (path.Length > 0)
        {
            var keepSlash = path.EndsWith('/') && path.Length > 1;
            path = CleanPath(path);
            if (keepSlash && !path.EndsWith('/'))
            {
                path += "/";
            }
        }

        var port = healthPort != 0 ? healthPort : parts.Port;
        if ((parts.Scheme == "http" && port == 80) || (parts.Scheme == "https" && port == 443))
        {
            port = 0;
        }

        var url = parts.Scheme + "://" + parts.Authority(port) + path + tail;
        try
        {
            return new Uri(url, UriKind.Absolute);
        }
        catch (UriFormatException e)
        {
            throw new ConfigException($"unable to parse health check endpoint {url}: {e.Message}", e);
        }
    }

    /// <summary>Go's path.Clean for a rooted path: '//' and '.' removed, '..' applied, never above the root.</summary>
    public static string CleanPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var segments = new List<string>();
        foreach (var segment in path.Split('/'))
        {
            switch (segment)
            {
                case "" or ".":
                    break;
                case "..":
                    if (segments.Count > 0)
                    {
                        segments.RemoveAt(segments.Count - 1);
                    }

                    break;
                default:
                    segments.Add(segment);
                    break;
            }
        }

        return "/" + string.Join('/', segments);
    }
}
