using System.Text;
using System.Text.RegularExpressions;

namespace Sidekick.Core.Tls;

/// <summary>Handshake failures as Go words them (<c>remote error: tls: bad certificate</c>), for 502 bodies and logs.</summary>
internal static partial class TlsErrors
{
    /// <summary>Describes a failed client handshake.</summary>
    public static string Describe(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            var alert = AlertName().Match(e.Message);
            if (alert.Success)
            {
                return "remote error: tls: " + Words(alert.Groups[1].Value);
            }
        }

        return ex is IOException && ex.InnerException is null
            ? "tls: connection closed during the handshake"
            : "tls: " + (ex.InnerException?.Message ?? ex.Message);
    }

    /// <summary><c>BadCertificate</c> → <c>bad certificate</c>.</summary>
    internal static string Words(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 4);
        foreach (var c in pascal)
        {
            if (char.IsUpper(c) && sb.Length > 0)
            {
                sb.Append(' ');
            }

            sb.Append(char.ToLowerInvariant(c));
        }

        return sb.ToString();
    }

    [GeneratedRegex(@"TLS alert: '(\w+)'")]
    private static partial Regex AlertName();
}
