using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Sidekick.Core.Config;

namespace Sidekick.Core.Tls;

/// <summary>
/// TLS to https backends (G4): TLS 1.2 minimum, --tls-max maximum; roots are the system store, or the --cacert
/// file which replaces them (as the original); --client-cert/--client-key for mTLS; --insecure skips
/// verification. One configuration for every https site. The SNI and the name verified is the backend's host
/// name (in rr-dns mode the original name, not the address). Session resumption is SslStream's own cache.
/// </summary>
public sealed class UpstreamTls
{

    private readonly X509Certificate2Collection? _roots;
    private readonly SslStreamCertificateContext? _clientCertificate;

    private UpstreamTls(bool insecure, SslProtocols protocols, X509Certificate2Collection? roots, SslStreamCertificateContext? clientCertificate)
    {
        Insecure = insecure;
        Protocols = protocols;
        _roots = roots;
        _clientCertificate = clientCertificate;
    }

    /// <summary>--insecure.</summary>
    public bool Insecure { get; }

    /// <summary>Enabled versions.</summary>
    public SslProtocols Protocols { get; }

    /// <summary>Defaults: system roots, verification on, TLS 1.2–1.3.</summary>
    public static UpstreamTls Default { get; } = new(false, ServerCertificate.Protocols(TlsMaxVersion.Tls13), null, null);

    /// <summary>Builds the backend TLS settings from the options.</summary>
    /// <exception cref="TlsConfigException">--cacert or the client pair cannot be loaded (fatal at startup).</exception>
    public static UpstreamTls FromOptions(SidekickOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        X509Certificate2Collection? roots = null;
        if (options.CaCertFile is not null)
        {
            roots = PemFile.ReadCertificates(options.CaCertFile, "CA certificate");
        }

        SslStreamCertificateContext? client = null;
        if (options.ClientCertFile is not null && options.ClientKeyFile is not null)
        {
            // Unlike the original the client key may be encrypted (gap 18): --key-password applies to it too.
            var (leaf, chain) = PemFile.LoadPair(options.ClientCertFile, options.ClientKeyFile, options.KeyPassword, "client certificate");
            client = SslStreamCertificateContext.Create(leaf, chain, offline: true);
        }

        return new UpstreamTls(options.Insecure, ServerCertificate.Protocols(options.TlsMax), roots, client);
    }

    /// <summary>
    /// Options for one handshake with <paramref name="serverName"/>. <paramref name="failure"/> receives the
    /// Go-style reason when the backend's certificate is rejected.
    /// </summary>
    internal SslClientAuthenticationOptions ClientOptions(string serverName, StrongBox<string?> failure)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            EnabledSslProtocols = Protocols,
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            ClientCertificateContext = _clientCertificate,
            AllowRenegotiation = false, // as Go's client (it never renegotiates); a renegotiation would write from the read side
        };
        if (Insecure)
        {
#pragma warning disable CA5359 // --insecure: the user asked for no verification (A9).
            options.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
#pragma warning restore CA5359
            return options;
        }

        // No intermediate is fetched from the certificate's AIA address, with the system's roots too: Go's client does
        // not fetch them either (a backend that omits its intermediate fails as in the original), and the handshake
        // runs on the epoll loop's thread, which a download would block.
        var policy = new X509ChainPolicy
        {
            TrustMode = _roots is null ? X509ChainTrustMode.System : X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        if (_roots is not null)
        {
            policy.CustomTrustStore.AddRange(_roots);
        }

        options.CertificateChainPolicy = policy;

        options.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
        {
            if (errors == SslPolicyErrors.None)
            {
                return true;
            }

            failure.Value = Describe(errors, certificate, chain, serverName);
            return false;
        };
        return options;
    }

    private static string Describe(SslPolicyErrors errors, X509Certificate? certificate, X509Chain? chain, string serverName)
    {
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return "tls: server sent no certificate";
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            var status = chain?.ChainStatus.Select(s => s.Status).Aggregate(X509ChainStatusFlags.NoError, (a, b) => a | b) ?? X509ChainStatusFlags.NoError;
            if (status.HasFlag(X509ChainStatusFlags.NotTimeValid))
            {
                return "x509: certificate has expired or is not yet valid";
            }

            return "x509: certificate signed by unknown authority";
        }

        var names = certificate is X509Certificate2 c2 ? c2.GetNameInfo(X509NameType.DnsName, false) : null;
        return $"x509: certificate is valid for {names}, not {serverName}";
    }
}

/// <summary>A mutable holder (the validation callback reports its reason through it).</summary>
internal sealed class StrongBox<T>
{
    public T? Value { get; set; }
}
