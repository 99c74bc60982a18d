using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Sidekick.Core.Tls;

/// <summary>One PEM block: its label, its RFC 1421 headers (legacy encryption) and its DER bytes.</summary>
internal sealed record PemBlock(string Label, IReadOnlyDictionary<string, string> Headers, byte[] Der);

/// <summary>
/// Reads certificates and private keys from PEM text: certificate chains; RSA and ECDSA keys in PKCS#1, SEC1
/// and PKCS#8; PKCS#8 <c>ENCRYPTED PRIVATE KEY</c> and the legacy OpenSSL <c>Proc-Type: 4,ENCRYPTED</c> form
/// (RFC 1423, key from EVP_BytesToKey with MD5). Blocks other than keys (e.g. the <c>EC PARAMETERS</c> block
/// <c>openssl ecparam</c> writes first) and blank lines are ignored, which the original rejects (H3).
/// Errors are <see cref="TlsConfigException"/> with one-line messages.
/// </summary>
internal static class PemFile
{
    /// <summary>Splits PEM text into blocks; text outside blocks is ignored.</summary>
    public static List<PemBlock> Parse(string text)
    {
        var blocks = new List<PemBlock>();
        var lines = text.ReplaceLineEndings("\n").Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (!line.StartsWith("-----BEGIN ", StringComparison.Ordinal) || !line.EndsWith("-----", StringComparison.Ordinal))
            {
                continue;
            }

            var label = line["-----BEGIN ".Length..^5];
            var end = "-----END " + label + "-----";
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var base64 = new StringBuilder();
            var closed = false;
            for (i++; i < lines.Length; i++)
            {
                var l = lines[i].Trim();
                if (l == end)
                {
                    closed = true;
                    break;
                }

                var colon = l.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && base64.Length == 0)
                {
                    headers[l[..colon].Trim()] = l[(colon + 1)..].Trim();
                    continue;
                }

                base64.Append(l);
            }

            if (!closed)
            {
                throw new TlsConfigException($"PEM block '{label}' has no END line");
            }

            byte[] der;
            try
            {
                der = Convert.FromBase64String(base64.ToString());
            }
            catch (FormatException e)
            {
                throw new TlsConfigException($"PEM block '{label}' is not valid base64", e);
            }

            blocks.Add(new PemBlock(label, headers, der));
        }

        return blocks;
    }

    /// <summary>Reads the certificates of a file in order (leaf first for a server chain).</summary>
    public static X509Certificate2Collection ReadCertificates(string path, string what)
    {
        var text = ReadText(path, what);
        var collection = new X509Certificate2Collection();
        foreach (var block in Parse(text).Where(b => b.Label == "CERTIFICATE"))
        {
            try
            {
                collection.Add(X509CertificateLoader.LoadCertificate(block.Der));
            }
            catch (CryptographicException e)
            {
                throw new TlsConfigException($"unable to load {what}: {path}: x509: malformed certificate ({e.Message})", e);
            }
        }

        if (collection.Count == 0)
        {
            throw new TlsConfigException($"unable to load {what}: {path}: tls: failed to find any PEM data in certificate input");
        }

        return collection;
    }

    /// <summary>Reads the private key of a key file (RSA or ECDSA), decrypting it with <paramref name="password"/> when needed.</summary>
    public static AsymmetricAlgorithm ReadPrivateKey(string path, string? password)
    {
        var blocks = Parse(ReadText(path, "private key"));
        var keys = blocks.Where(b => b.Label.EndsWith("PRIVATE KEY", StringComparison.Ordinal)).ToList();
        if (keys.Count == 0)
        {
            throw new TlsConfigException($"unable to load private key: {path}: tls: failed to find any PEM data in key input");
        }

        if (keys.Count > 1)
        {
            throw new TlsConfigException($"unable to load private key: {path}: the file holds more than one private key");
        }

        try
        {
            return ImportKey(keys[0], password);
        }
        catch (CryptographicException e)
        {
            throw new TlsConfigException($"unable to load private key: {path}: {e.Message}", e);
        }
    }

    /// <summary>Pairs a certificate with its key; fails when they do not match.</summary>
    public static X509Certificate2 WithKey(X509Certificate2 certificate, AsymmetricAlgorithm key)
    {
        try
        {
            return key switch
            {
                RSA rsa => certificate.CopyWithPrivateKey(rsa),
                ECDsa ecdsa => certificate.CopyWithPrivateKey(ecdsa),
                _ => throw new TlsConfigException("tls: unsupported private key type"),
            };
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or InvalidOperationException)
        {
            throw new TlsConfigException("tls: private key does not match public key", e);
        }
    }

    /// <summary>Loads a certificate chain and its key as one certificate-with-key plus the intermediates.</summary>
    public static (X509Certificate2 Leaf, X509Certificate2Collection Chain) LoadPair(string certPath, string keyPath, string? password, string what)
    {
        var certs = ReadCertificates(certPath, what);
        using var key = ReadPrivateKey(keyPath, password);
        var leaf = WithKey(certs[0], key);
        var chain = new X509Certificate2Collection();
        for (var i = 1; i < certs.Count; i++)
        {
            chain.Add(certs[i]);
        }

        certs[0].Dispose();
        return (leaf, chain);
    }

    private static AsymmetricAlgorithm ImportKey(PemBlock block, string? password)
    {
        var der = block.Der;
        var legacyEncrypted = block.Headers.TryGetValue("Proc-Type", out var procType) && procType.Contains("ENCRYPTED", StringComparison.OrdinalIgnoreCase);
        if (legacyEncrypted || block.Label == "ENCRYPTED PRIVATE KEY")
        {
            if (string.IsNullOrEmpty(password))
            {
                throw new TlsConfigException("the private key is encrypted, please set the flag --key-password");
            }

            if (block.Label == "ENCRYPTED PRIVATE KEY")
            {
                return ImportEncryptedPkcs8(der, password);
            }

            if (!block.Headers.TryGetValue("DEK-Info", out var dekInfo))
            {
                throw new TlsConfigException("x509: no DEK-Info header in block");
            }

            der = LegacyPem.Decrypt(der, dekInfo, password);
        }

        switch (block.Label)
        {
            case "RSA PRIVATE KEY":
            {
                var rsa = RSA.Create();
                rsa.ImportRSAPrivateKey(der, out _);
                return rsa;
            }

            case "EC PRIVATE KEY":
            {
                var ec = ECDsa.Create();
                ec.ImportECPrivateKey(der, out _);
                return ec;
            }

            case "PRIVATE KEY":
                return ImportPkcs8(der);
            default:
                throw new TlsConfigException($"tls: unsupported private key block '{block.Label}'");
        }
    }

    private static AsymmetricAlgorithm ImportPkcs8(byte[] der)
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportPkcs8PrivateKey(der, out _);
            return rsa;
        }
        catch (CryptographicException)
        {
            rsa.Dispose();
        }

        var ec = ECDsa.Create();
        try
        {
            ec.ImportPkcs8PrivateKey(der, out _);
            return ec;
        }
        catch (CryptographicException e)
        {
            ec.Dispose();
            throw new TlsConfigException("tls: failed to parse private key (neither RSA nor ECDSA PKCS#8)", e);
        }
    }

    private static AsymmetricAlgorithm ImportEncryptedPkcs8(byte[] der, string password)
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportEncryptedPkcs8PrivateKey(password, der, out _);
            return rsa;
        }
        catch (CryptographicException)
        {
            rsa.Dispose();
        }

        var ec = ECDsa.Create();
        try
        {
            ec.ImportEncryptedPkcs8PrivateKey(password, der, out _);
            return ec;
        }
        catch (CryptographicException e)
        {
            ec.Dispose();
            throw new TlsConfigException("x509: decryption password incorrect", e);
        }
    }

    private static string Reason(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
        UnauthorizedAccessException => "permission denied",
        _ => e.Message,
    };

    private static string ReadText(string path, string what)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new TlsConfigException($"unable to load {what}: open {path}: {Reason(e)}", e);
        }
    }
}

/// <summary>
/// Legacy OpenSSL PEM encryption (RFC 1423): <c>DEK-Info: CIPHER,HEX-IV</c>; the key is OpenSSL's EVP_BytesToKey
/// with MD5, one iteration, and the first 8 bytes of the IV as salt.
/// </summary>
internal static class LegacyPem
{
    /// <summary>Decrypts the DER of a legacy-encrypted block.</summary>
    public static byte[] Decrypt(byte[] data, string dekInfo, string password)
    {
        var comma = dekInfo.IndexOf(',', StringComparison.Ordinal);
        if (comma < 0)
        {
            throw new TlsConfigException("x509: malformed DEK-Info header");
        }

        var cipher = dekInfo[..comma].Trim().ToUpperInvariant();
        byte[] iv;
        try
        {
            iv = Convert.FromHexString(dekInfo[(comma + 1)..].Trim());
        }
        catch (FormatException e)
        {
            throw new TlsConfigException("x509: malformed DEK-Info IV", e);
        }

        var (keySize, blockSize) = Sizes(cipher);
        if (iv.Length != blockSize)
        {
            throw new TlsConfigException("x509: incorrect IV size");
        }

        var key = BytesToKey(Encoding.UTF8.GetBytes(password), iv.AsSpan(0, 8), keySize);
        using SymmetricAlgorithm algorithm = cipher.StartsWith("AES", StringComparison.Ordinal) ? Aes.Create() : TripleDES.Create();
        algorithm.Key = key;
        try
        {
            return algorithm.DecryptCbc(data, iv, PaddingMode.PKCS7);
        }
        catch (CryptographicException e)
        {
            throw new TlsConfigException("x509: decryption password incorrect", e);
        }
    }

    /// <summary>Encrypts a DER key in the legacy format (tests, and the counterpart of <see cref="Decrypt"/>).</summary>
    public static string Encrypt(string label, byte[] der, string cipher, string password)
    {
        var (keySize, blockSize) = Sizes(cipher);
        var iv = RandomNumberGenerator.GetBytes(blockSize);
        var key = BytesToKey(Encoding.UTF8.GetBytes(password), iv.AsSpan(0, 8), keySize);
        using SymmetricAlgorithm algorithm = cipher.StartsWith("AES", StringComparison.Ordinal) ? Aes.Create() : TripleDES.Create();
        algorithm.Key = key;
        var encrypted = algorithm.EncryptCbc(der, iv, PaddingMode.PKCS7);
        var sb = new StringBuilder();
        sb.Append("-----BEGIN ").Append(label).Append("-----\n");
        sb.Append("Proc-Type: 4,ENCRYPTED\n");
        sb.Append("DEK-Info: ").Append(cipher).Append(',').Append(Convert.ToHexString(iv)).Append("\n\n");
        var b64 = Convert.ToBase64String(encrypted);
        for (var i = 0; i < b64.Length; i += 64)
        {
            sb.Append(b64.AsSpan(i, Math.Min(64, b64.Length - i))).Append('\n');
        }

        sb.Append("-----END ").Append(label).Append("-----\n");
        return sb.ToString();
    }

    /// <summary>OpenSSL EVP_BytesToKey(MD5, count 1): D_i = MD5(D_{i-1} || password || salt), concatenated.</summary>
    public static byte[] BytesToKey(ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, int keySize)
    {
        var key = new byte[keySize];
        var filled = 0;
        Span<byte> previous = stackalloc byte[16];
        var havePrevious = false;
        var input = new byte[16 + password.Length + salt.Length];
        while (filled < keySize)
        {
            var n = 0;
            if (havePrevious)
            {
                previous.CopyTo(input);
                n = 16;
            }

            password.CopyTo(input.AsSpan(n));
            n += password.Length;
            salt.CopyTo(input.AsSpan(n));
            n += salt.Length;
#pragma warning disable CA5351 // MD5 is what the legacy format specifies; it is not used for security here beyond compatibility.
            MD5.HashData(input.AsSpan(0, n), previous);
#pragma warning restore CA5351
            havePrevious = true;
            var take = Math.Min(16, keySize - filled);
            previous[..take].CopyTo(key.AsSpan(filled));
            filled += take;
        }

        return key;
    }

    private static (int KeySize, int BlockSize) Sizes(string cipher) => cipher switch
    {
        "DES-EDE3-CBC" => (24, 8),
        "AES-128-CBC" => (16, 16),
        "AES-192-CBC" => (24, 16),
        "AES-256-CBC" => (32, 16),
        _ => throw new TlsConfigException(string.Create(CultureInfo.InvariantCulture, $"x509: unknown encryption mode '{cipher}'")),
    };
}

/// <summary>A certificate or key that cannot be used; the message is one line for the user.</summary>
public sealed class TlsConfigException : Exception
{
    /// <summary>Creates an exception without a message.</summary>
    public TlsConfigException()
    {
    }

    /// <summary>Creates an exception with its one-line message.</summary>
    public TlsConfigException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with its one-line message and the underlying cause.</summary>
    public TlsConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
