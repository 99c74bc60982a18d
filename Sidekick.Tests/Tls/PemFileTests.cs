using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Sidekick.Core.Tls;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Tls;

/// <summary>Certificate and key files (H3, A20): formats, chains, both kinds of encryption, the errors.</summary>
public class PemFileTests
{
    [Test]
    public void Rsa_pkcs1_key_and_a_chain_load()
    {
        using var dir = new TestCertificates();
        using var ca = TestCertificates.CreateCa();
        using var leaf = TestCertificates.CreateLeaf(ca, rsa: true);
        var cert = dir.Write("cert.pem", TestCertificates.CertPem(leaf) + TestCertificates.CertPem(ca));
        var key = dir.Write("key.pem", TestCertificates.TraditionalPem(leaf));
        File.ReadAllText(key).ShouldContain("BEGIN RSA PRIVATE KEY");

        var (loaded, chain) = PemFile.LoadPair(cert, key, null, "certificate");

        loaded.HasPrivateKey.ShouldBeTrue();
        loaded.Thumbprint.ShouldBe(leaf.Thumbprint);
        chain.Count.ShouldBe(1);
        chain[0].Thumbprint.ShouldBe(ca.Thumbprint);
    }

    [Test]
    public void Ec_sec1_key_after_an_EC_PARAMETERS_block_with_trailing_blank_lines_loads()
    {
        using var dir = new TestCertificates();
        using var leaf = TestCertificates.CreateLeaf(null);
        var cert = dir.Write("cert.pem", TestCertificates.CertPem(leaf) + "\n\n");
        // What `openssl ecparam -genkey` writes: the curve first, then the key; the original rejects it (H3).
        var key = dir.Write("key.pem", "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
            + TestCertificates.TraditionalPem(leaf) + "\n\n\n");

        var (loaded, _) = PemFile.LoadPair(cert, key, null, "certificate");

        loaded.GetECDsaPrivateKey().ShouldNotBeNull();
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Pkcs8_keys_load(bool rsa)
    {
        using var dir = new TestCertificates();
        using var leaf = TestCertificates.CreateLeaf(null, rsa);
        var (cert, key) = dir.WritePair(leaf);

        var (loaded, _) = PemFile.LoadPair(cert, key, null, "certificate");

        loaded.HasPrivateKey.ShouldBeTrue();
    }

    [Test]
    public void Encrypted_pkcs8_key_needs_the_password()
    {
        using var dir = new TestCertificates();
        using var leaf = TestCertificates.CreateLeaf(null, rsa: true);
        var cert = dir.Write("cert.pem", TestCertificates.CertPem(leaf));
        var key = dir.Write("key.pem", TestCertificates.EncryptedPkcs8Pem(leaf, "s3cret"));

        PemFile.LoadPair(cert, key, "s3cret", "certificate").Leaf.HasPrivateKey.ShouldBeTrue();
        Should.Throw<TlsConfigException>(() => PemFile.LoadPair(cert, key, null, "certificate"))
            .Message.ShouldBe("the private key is encrypted, please set the flag --key-password");
        Should.Throw<TlsConfigException>(() => PemFile.LoadPair(cert, key, "wrong", "certificate"))
            .Message.ShouldBe("x509: decryption password incorrect");
    }

    [TestCase("AES-256-CBC", false)]
    [TestCase("AES-128-CBC", true)]
    [TestCase("AES-192-CBC", false)]
    [TestCase("DES-EDE3-CBC", true)]
    public void Legacy_encrypted_key_written_by_our_encoder_loads_with_the_password(string cipher, bool rsa)
    {
        using var dir = new TestCertificates();
        using var leaf = TestCertificates.CreateLeaf(null, rsa);
        var cert = dir.Write("cert.pem", TestCertificates.CertPem(leaf));
        var (label, der) = TestCertificates.TraditionalKey(leaf);
        var key = dir.Write("key.pem", LegacyPem.Encrypt(label, der, cipher, "pa55"));
        File.ReadAllText(key).ShouldContain("Proc-Type: 4,ENCRYPTED");

        PemFile.LoadPair(cert, key, "pa55", "certificate").Leaf.HasPrivateKey.ShouldBeTrue();
        Should.Throw<TlsConfigException>(() => PemFile.LoadPair(cert, key, null, "certificate"))
            .Message.ShouldBe("the private key is encrypted, please set the flag --key-password");
    }

    [TestCase("ec", "-aes256")]
    [TestCase("rsa", "-des3")]
    public async Task Legacy_encrypted_key_written_by_openssl_loads(string kind, string cipherFlag)
    {
        Tool.Exists("openssl").ShouldBeTrue("openssl is installed by build.sh");
        using var dir = new TestCertificates();
        using var leaf = TestCertificates.CreateLeaf(null, rsa: kind == "rsa");
        var cert = dir.Write("cert.pem", TestCertificates.CertPem(leaf));
        var plain = dir.Write("plain.pem", TestCertificates.TraditionalPem(leaf));
        var encrypted = dir.PathOf("enc.pem");
        string[] args = kind == "rsa"
            ? ["rsa", "-in", plain, "-traditional", cipherFlag, "-passout", "pass:opensesame", "-out", encrypted]
            : ["ec", "-in", plain, cipherFlag, "-passout", "pass:opensesame", "-out", encrypted];
        var run = await Tool.RunAsync("openssl", null, args);
        run.Exit.ShouldBe(0, run.Err);
        File.ReadAllText(encrypted).ShouldContain("DEK-Info:");

        PemFile.LoadPair(cert, encrypted, "opensesame", "certificate").Leaf.HasPrivateKey.ShouldBeTrue();
        Should.Throw<TlsConfigException>(() => PemFile.LoadPair(cert, encrypted, "nope", "certificate"));
    }

    [Test]
    public async Task Our_legacy_encryption_is_readable_by_openssl()
    {
        Tool.Exists("openssl").ShouldBeTrue("openssl is installed by build.sh");
        using var dir = new TestCertificates();
        using var leaf = TestCertificates.CreateLeaf(null);
        var (label, der) = TestCertificates.TraditionalKey(leaf);
        var ours = dir.Write("ours.pem", LegacyPem.Encrypt(label, der, "AES-256-CBC", "k8s"));

        var run = await Tool.RunAsync("openssl", null, "ec", "-in", ours, "-passin", "pass:k8s", "-pubout");

        run.Exit.ShouldBe(0, run.Err);
        run.Out.ShouldContain(PemEncodingText(leaf.PublicKey.ExportSubjectPublicKeyInfo()));
    }

    [Test]
    public async Task EVP_BytesToKey_matches_openssl()
    {
        Tool.Exists("openssl").ShouldBeTrue("openssl is installed by build.sh");
        var salt = Convert.FromHexString("0102030405060708");

        var run = await Tool.RunAsync("openssl", null, "enc", "-aes-256-cbc", "-md", "md5", "-S", "0102030405060708", "-pass", "pass:secret", "-P");

        run.Exit.ShouldBe(0, run.Err);
        var expected = Regex.Match(run.Out, @"key\s*=\s*([0-9A-F]+)").Groups[1].Value;
        Convert.ToHexString(LegacyPem.BytesToKey("secret"u8, salt, 32)).ShouldBe(expected);
    }

    [Test]
    public void A_key_of_another_certificate_is_rejected()
    {
        using var dir = new TestCertificates();
        using var a = TestCertificates.CreateLeaf(null);
        using var b = TestCertificates.CreateLeaf(null);
        var cert = dir.Write("cert.pem", TestCertificates.CertPem(a));
        var key = dir.Write("key.pem", TestCertificates.Pkcs8Pem(b));

        Should.Throw<TlsConfigException>(() => PemFile.LoadPair(cert, key, null, "certificate"))
            .Message.ShouldBe("tls: private key does not match public key");
    }

    [Test]
    public void A_missing_file_names_the_file()
    {
        Should.Throw<TlsConfigException>(() => PemFile.ReadCertificates("/nonexistent/ca.pem", "CA certificate"))
            .Message.ShouldBe("unable to load CA certificate: open /nonexistent/ca.pem: no such file or directory");
    }

    private static string PemEncodingText(byte[] spki) =>
        PemEncoding.WriteString("PUBLIC KEY", spki).Split('\n')[1];
}

/// <summary>Handshake failures worded as Go does.</summary>
public class TlsErrorTests
{
    [Test]
    public void Alerts_become_go_style_remote_errors()
    {
        var ex = new System.Security.Authentication.AuthenticationException("Authentication failed, see inner exception.",
            new IOException("Authentication failed because the remote party sent a TLS alert: 'BadCertificate'."));

        TlsErrors.Describe(ex).ShouldBe("remote error: tls: bad certificate");
        TlsErrors.Words("HandshakeFailure").ShouldBe("handshake failure");
    }
}
