using System.Buffers;

namespace Sidekick.Http1;

/// <summary>Character classes of RFC 9110/9112 as <see cref="SearchValues{T}"/> so validation is vectorised.</summary>
internal static class HttpChars
{
    /// <summary>tchar (RFC 9110 5.6.2): the characters of a token (method, header name, coding names).</summary>
    public static readonly SearchValues<byte> Token =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    /// <summary>field-vchar / SP / HTAB (RFC 9110 5.5): every byte except the CTLs (and DEL); obs-text allowed.</summary>
    public static readonly SearchValues<byte> FieldValue = Create(static b => b == (byte)'\t' || (b >= 0x20 && b != 0x7F));

    /// <summary>Request-target bytes: anything visible, never SP or a CTL (RFC 9112 3.2).</summary>
    public static readonly SearchValues<byte> Target = Create(static b => b > 0x20 && b != 0x7F);

    /// <summary>reg-name (RFC 3986 3.2.2): unreserved / sub-delims / '%' (pct-encoding checked separately).</summary>
    public static readonly SearchValues<byte> RegName =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=%"u8);

    /// <summary>Inside an IP-literal: IPv6 (hex, ':' and '.' for an embedded IPv4).</summary>
    public static readonly SearchValues<byte> Ipv6 = SearchValues.Create("0123456789ABCDEFabcdef:."u8);

    /// <summary>DIGIT.</summary>
    public static readonly SearchValues<byte> Digit = SearchValues.Create("0123456789"u8);

    /// <summary>qdtext (RFC 9110 5.6.4): HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text.</summary>
    public static readonly SearchValues<byte> QdText =
        Create(static b => b == (byte)'\t' || b == (byte)' ' || b == 0x21 || (b >= 0x23 && b <= 0x5B) || (b >= 0x5D && b <= 0x7E) || b >= 0x80);

    /// <summary>Optional whitespace (RFC 9110 5.6.3): SP / HTAB.</summary>
    public static bool IsOws(byte b) => b == (byte)' ' || b == (byte)'\t';

    /// <summary>Removes leading and trailing OWS.</summary>
    public static ReadOnlySpan<byte> TrimOws(ReadOnlySpan<byte> s)
    {
        int start = 0;
        while (start < s.Length && IsOws(s[start]))
        {
            start++;
        }

        int end = s.Length;
        while (end > start && IsOws(s[end - 1]))
        {
            end--;
        }

        return s[start..end];
    }

    /// <summary>Value of a hex digit, or -1.</summary>
    public static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    private static SearchValues<byte> Create(Func<byte, bool> include)
    {
        var bytes = new List<byte>(256);
        for (int b = 0; b < 256; b++)
        {
            if (include((byte)b))
            {
                bytes.Add((byte)b);
            }
        }

        return SearchValues.Create(bytes.ToArray());
    }
}
