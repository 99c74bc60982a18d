using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Sidekick.Tests.Support;

/// <summary>Certificates made in the test (CertificateRequest) and written as PEM files to a temporary directory.</summary>
internal sealed class TestCertificates : IDisposable
{
    public TestCertificates()
    {
        Directory = Path.Combine(Path.GetTempPath(), "sidekick-tls-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public string PathOf(string name) => Path.Combine(Directory, name);

    public string Write(string name, string text)
    {
        var path = PathOf(name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>A CA that signs leaves.</summary>
    public static X509Certificate2 CreateCa(string name = "Sidekick Test CA")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(2));
    }

    /// <summary>A leaf for localhost, 127.0.0.1 and <paramref name="extraNames"/>: self-signed when <paramref name="issuer"/> is null.</summary>
    public static X509Certificate2 CreateLeaf(X509Certificate2? issuer, bool rsa = false, string cn = "localhost", bool clientAuth = false, params string[] extraNames)
    {
        using AsymmetricAlgorithm key = rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = key is RSA r
            ? new CertificateRequest("CN=" + cn, r, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest("CN=" + cn, (ECDsa)key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(clientAuth ? "1.3.6.1.5.5.7.3.2" : "1.3.6.1.5.5.7.3.1")], false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(IPAddress.Loopback);
        foreach (var n in extraNames)
        {
            san.AddDnsName(n);
        }

        request.CertificateExtensions.Add(san.Build());
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-5);
        var notAfter = DateTimeOffset.UtcNow.AddDays(1);
        if (issuer is null)
        {
            return request.CreateSelfSigned(notBefore, notAfter);
        }

        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        using var issuerKey = issuer.GetECDsaPrivateKey()!;
        using var signed = request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey), notBefore, notAfter, serial);
        return key is RSA rk ? signed.CopyWithPrivateKey(rk) : signed.CopyWithPrivateKey((ECDsa)key);
    }

    public static string CertPem(X509Certificate2 cert) => PemEncoding.WriteString("CERTIFICATE", cert.RawData) + "\n";

    /// <summary>The key as PKCS#8 <c>PRIVATE KEY</c>.</summary>
    public static string Pkcs8Pem(X509Certificate2 cert) =>
        PemEncoding.WriteString("PRIVATE KEY", Key(cert).ExportPkcs8PrivateKey()) + "\n";

    /// <summary>The key in its traditional form: PKCS#1 <c>RSA PRIVATE KEY</c> or SEC1 <c>EC PRIVATE KEY</c>.</summary>
    public static (string Label, byte[] Der) TraditionalKey(X509Certificate2 cert) => Key(cert) switch
    {
        RSA rsa => ("RSA PRIVATE KEY", rsa.ExportRSAPrivateKey()),
        ECDsa ec => ("EC PRIVATE KEY", ec.ExportECPrivateKey()),
        _ => throw new NotSupportedException(),
    };

    public static string TraditionalPem(X509Certificate2 cert)
    {
        var (label, der) = TraditionalKey(cert);
        return PemEncoding.WriteString(label, der) + "\n";
    }

    public static string EncryptedPkcs8Pem(X509Certificate2 cert, string password) =>
        PemEncoding.WriteString("ENCRYPTED PRIVATE KEY", Key(cert).ExportEncryptedPkcs8PrivateKey(password,
            new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 10_000))) + "\n";

    /// <summary>Writes cert.pem and key.pem (PKCS#8) for <paramref name="cert"/>; returns their paths.</summary>
    public (string Cert, string Key) WritePair(X509Certificate2 cert, string prefix = "", string? chainPem = null) =>
        (Write(prefix + "cert.pem", CertPem(cert) + (chainPem ?? string.Empty)), Write(prefix + "key.pem", Pkcs8Pem(cert)));

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static AsymmetricAlgorithm Key(X509Certificate2 cert) =>
        (AsymmetricAlgorithm?)cert.GetRSAPrivateKey() ?? cert.GetECDsaPrivateKey() ?? throw new InvalidOperationException("no private key");
}

/// <summary>Runs a Debian tool (curl, openssl) with a bound on time; killed by pid if it overruns.</summary>
internal static class Tool
{
    public static bool Exists(string name) =>
        Environment.GetEnvironmentVariable("PATH")!.Split(':').Any(d => File.Exists(Path.Combine(d, name)));

    public static async Task<(int Exit, string Out, string Err)> RunAsync(string file, string? stdin, params string[] args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        try
        {
            if (stdin is not null)
            {
                await p.StandardInput.WriteAsync(stdin);
            }

            p.StandardInput.Close();
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            return (p.ExitCode, await stdout, await stderr);
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
            }
        }
    }
}
