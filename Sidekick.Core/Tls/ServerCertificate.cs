using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Sidekick.Core.Config;

namespace Sidekick.Core.Tls;

/// <summary>
/// The certificate the listener presents (H2–H4): loaded from --cert/--key, or generated for --auto-tls-host.
/// The current <see cref="SslStreamCertificateContext"/> lives in a volatile field; a reload swaps it and the
/// next handshake uses it (in-flight connections keep theirs). Files are polled every
/// <see cref="PollInterval"/>: the resolved path (a Kubernetes <c>..data</c> symlink swap changes it), length and
/// modification time of both files are compared, and a change loads both again. A bad new pair keeps the last
/// good one and reports one line through the warning callback.
/// </summary>
public sealed class ServerCertificate : IDisposable
{
    /// <summary>How often --cert/--key are checked for changes.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);

    private readonly string? _certFile;
    private readonly string? _keyFile;
    private readonly string? _password;
    private readonly Action<string> _warn;
    private readonly ITimer? _timer;
    private readonly SslProtocols _protocols;
    private volatile SslStreamCertificateContext _context;
    private string _stamp = string.Empty;
    private int _reloading;

    private ServerCertificate(SslStreamCertificateContext context, SslProtocols protocols, string? certFile, string? keyFile, string? password, Action<string> warn, TimeProvider time)
    {
        _context = context;
        _protocols = protocols;
        _certFile = certFile;
        _keyFile = keyFile;
        _password = password;
        _warn = warn;
        if (certFile is not null && keyFile is not null)
        {
            _stamp = Stamp(certFile, keyFile);
            _timer = time.CreateTimer(_ => CheckForChanges(), null, PollInterval, PollInterval);
        }
    }

    /// <summary>The PEM of the generated certificate in auto-TLS mode (F2), else null.</summary>
    public string? AutoTlsPem { get; private init; }

    /// <summary>What the original prints on stdout in auto-TLS mode (H4), else null.</summary>
    public string? Announcement { get; private init; }

    /// <summary>The certificate presented now.</summary>
    public X509Certificate2 Certificate => _context.TargetCertificate;

    /// <summary>Successful reloads so far.</summary>
    public int Reloads { get; private set; }

    /// <summary>Builds the listener certificate from the options, or returns null when the listener is plain HTTP.</summary>
    /// <exception cref="TlsConfigException">The files cannot be used (fatal at startup).</exception>
    public static ServerCertificate? FromOptions(SidekickOptions options, TimeProvider time, Action<string> warn)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        var protocols = Protocols(options.TlsMax);
        if (options.CertFile is not null && options.KeyFile is not null)
        {
            var context = Load(options.CertFile, options.KeyFile, options.KeyPassword);
            return new ServerCertificate(context, protocols, options.CertFile, options.KeyFile, options.KeyPassword, warn, time);
        }

        if (options.AutoTlsHosts.Length > 0)
        {
            var cert = Generate(options.AutoTlsHosts);
            var pem = PemEncoding.WriteString("CERTIFICATE", cert.RawData) + "\n";
            var context = SslStreamCertificateContext.Create(cert, additionalCertificates: null, offline: true);
            return new ServerCertificate(context, protocols, null, null, null, warn, time)
            {
                AutoTlsPem = pem,
                Announcement = Announce(string.Join(',', options.AutoTlsHosts), cert),
            };
        }

        return null;
    }

    /// <summary>TLS 1.2 minimum, --tls-max maximum, for both sides (A26).</summary>
    public static SslProtocols Protocols(TlsMaxVersion max) =>
        max == TlsMaxVersion.Tls12 ? SslProtocols.Tls12 : SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>Options for one server handshake with the current certificate; ALPN offers only http/1.1 (H2).</summary>
    internal SslServerAuthenticationOptions ServerOptions() => new()
    {
        ServerCertificateContext = _context,
        EnabledSslProtocols = _protocols,
        ApplicationProtocols = [SslApplicationProtocol.Http11],
        ClientCertificateRequired = false,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        AllowRenegotiation = false, // as Go's server; a renegotiation would write from the read side
    };

    /// <summary>Checks the files now (the timer does this every <see cref="PollInterval"/>).</summary>
    public void CheckForChanges()
    {
        if (_certFile is null || _keyFile is null || Interlocked.Exchange(ref _reloading, 1) != 0)
        {
            return;
        }

        try
        {
            var stamp = Stamp(_certFile, _keyFile);
            if (stamp == _stamp)
            {
                return;
            }

            try
            {
                _context = Load(_certFile, _keyFile, _password);
                Reloads++;
            }
            catch (TlsConfigException e)
            {
                _warn($"unable to reload the certificate, keeping the current one: {e.Message}");
            }

            // Either way this version of the files has been seen: a bad file is reported once, not every poll.
            _stamp = stamp;
        }
        finally
        {
            Volatile.Write(ref _reloading, 0);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _timer?.Dispose();

    private static SslStreamCertificateContext Load(string certFile, string keyFile, string? password)
    {
        var (leaf, chain) = PemFile.LoadPair(certFile, keyFile, password, "certificate");
        return SslStreamCertificateContext.Create(leaf, chain, offline: true);
    }

    private static string Stamp(string certFile, string keyFile) => Stamp(certFile) + "|" + Stamp(keyFile);

    private static string Stamp(string path)
    {
        try
        {
            // A Kubernetes secret: tls.crt -> ..data/tls.crt, ..data -> ..2024_01_01_00_00_00.123: the swap of
            // ..data changes the real path even when length and time happen to match.
            var real = RealPath(Path.GetFullPath(path));
            var info = new FileInfo(real);
            return string.Create(CultureInfo.InvariantCulture, $"{real}:{info.Length}:{info.LastWriteTimeUtc.Ticks}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "missing:" + e.GetType().Name;
        }
    }

    /// <summary>realpath(3): every symlink along the path resolved, bounded against loops.</summary>
    internal static string RealPath(string path)
    {
        var pending = new List<string>(path.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var current = "/";
        for (var guard = 0; pending.Count > 0 && guard < 256; guard++)
        {
            var candidate = Path.GetFullPath(Path.Combine(current, pending[0]));
            pending.RemoveAt(0);
            var link = new FileInfo(candidate).LinkTarget;
            if (link is null)
            {
                current = candidate;
                continue;
            }

            var target = Path.IsPathRooted(link) ? link : Path.Combine(current, link);
            pending.InsertRange(0, target.Split('/', StringSplitOptions.RemoveEmptyEntries));
            current = "/";
        }

        return current;
    }

    /// <summary>
    /// The auto-TLS certificate (H4): ECDSA P-256, self-signed, CA, digital signature + key encipherment + cert
    /// sign, server auth, O=Acme Co, now to +365 days, random 128-bit serial, SANs from the list.
    /// </summary>
    internal static X509Certificate2 Generate(IReadOnlyList<string> hosts)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("O=Acme Co"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment | X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var san = new SubjectAlternativeNameBuilder();
        foreach (var host in hosts)
        {
            if (IPAddress.TryParse(host.Trim('[', ']'), out var ip))
            {
                san.AddIpAddress(ip);
            }
            else
            {
                san.AddDnsName(host);
            }
        }

        request.CertificateExtensions.Add(san.Build());
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive
        var now = DateTimeOffset.UtcNow;
        using var signed = request.Create(request.SubjectName, X509SignatureGenerator.CreateForECDsa(key), now, now.AddDays(365), serial);
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>The original's stdout lines (H4), byte for byte.</summary>
    internal static string Announce(string hostArgument, X509Certificate2 cert)
    {
        var fingerprint = SHA256.HashData(cert.RawData);
        var pin = SHA256.HashData(cert.PublicKey.ExportSubjectPublicKeyInfo());
        var sb = new StringBuilder();
        sb.Append("Generated TLS certificate for host '").Append(hostArgument).Append("'\n");
        sb.Append("\nCertificate: ").Append(Hex(fingerprint.AsSpan(0, 16)));
        sb.Append("\n             ").Append(Hex(fingerprint.AsSpan(16)));
        sb.Append("\nPublic Key:  ").Append(Convert.ToBase64String(pin)).Append('\n');
        sb.Append('\n');
        return sb.ToString();
    }

    private static string Hex(ReadOnlySpan<byte> bytes) =>
        string.Join(' ', bytes.ToArray().Select(b => b.ToString("X2", CultureInfo.InvariantCulture)));
}
