using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using CommandLine;
using Sidekick.Core.Config;

namespace Sidekick.Cli;

/// <summary>Turns normalised arguments into <see cref="SidekickOptions"/>: usage checks first, then the sites.</summary>
internal static class OptionsBuilder
{
    /// <summary>Maps the canonical tokens onto <see cref="RawFlags"/> with CommandLineParser.</summary>
    [DynamicDependency(DynamicallyAccessedMemberTypes.All, typeof(RawFlags))] // CommandLineParser reflects over it.
    public static RawFlags Map(NormalisedArguments normalised)
    {
        ArgumentNullException.ThrowIfNull(normalised);
        using var parser = new Parser(s =>
        {
            s.CaseSensitive = true;
            s.AllowMultiInstance = true;
            s.AutoHelp = false;
            s.AutoVersion = false;
            s.HelpWriter = null;
            s.EnableDashDash = true;
            s.IgnoreUnknownArguments = false;
        });
        var result = parser.ParseArguments<RawFlags>(normalised.Tokens);
        return result switch
        {
            Parsed<RawFlags> parsed => parsed.Value,
            NotParsed<RawFlags> failed => throw new UsageException(
                "cannot parse the command line: " + string.Join(", ", failed.Errors.Select(e => e.Tag.ToString()))),
            _ => throw new UsageException("cannot parse the command line"),
        };
    }

    /// <summary>Every flag value check (usage errors, exit 2). Sites and the listen address are not resolved here.</summary>
    public static SidekickOptions FromFlags(RawFlags raw, IReadOnlySet<string> given)
    {
        ArgumentNullException.ThrowIfNull(raw);
        ArgumentNullException.ThrowIfNull(given);
        var defaults = new SidekickOptions();
        var limits = new ProxyLimits();

        var cert = NullIfEmpty(raw.Cert);
        var key = NullIfEmpty(raw.Key);
        if ((cert is null) != (key is null))
        {
            // A19: the original silently served plain HTTP when only one was given.
            throw new UsageException("--cert and --key must be given together");
        }

        var clientCert = NullIfEmpty(raw.ClientCert);
        var clientKey = NullIfEmpty(raw.ClientKey);
        if ((clientCert is null) != (clientKey is null))
        {
            // A18, with the flag names the original got wrong.
            throw new UsageException("--client-cert and --client-key must be given together");
        }

        return defaults with
        {
            Address = raw.Address ?? defaults.Address,
            HealthPath = HealthUrl.NormalisePath(raw.HealthPath),
            ReadHealthPath = HealthUrl.NormalisePath(raw.ReadHealthPath ?? raw.HealthPath),
            HealthPort = raw.HealthPort is null ? 0 : ParseInt(Flags.HealthPort, raw.HealthPort, int.MinValue, int.MaxValue),
            HealthDuration = Duration(Flags.HealthDuration, raw.HealthDuration, defaults.HealthDuration, allowZero: false),
            HealthTimeout = Duration(Flags.HealthTimeout, raw.HealthTimeout, defaults.HealthTimeout, allowZero: false),
            HealthOptimistic = raw.HealthOptimistic,
            Insecure = raw.Insecure,
            RoundRobinDns = raw.RrDnsMode,
            AutoTlsHosts = [.. (raw.AutoTlsHost ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)],
            Log = raw.Log,
            Trace = ParseTrace(raw.Trace),
            TraceExplicit = given.Contains(Flags.Trace),
            Quiet = raw.Quiet,
            Json = raw.Json,
            Debug = raw.Debug,
            CaCertFile = NullIfEmpty(raw.CaCert),
            ClientCertFile = clientCert,
            ClientKeyFile = clientKey,
            CertFile = cert,
            KeyFile = key,
            KeyPassword = NullIfEmpty(raw.KeyPassword),
            PprofAddress = NullIfEmpty(raw.Pprof),
            DnsTtl = Duration(Flags.DnsTtl, raw.DnsTtl, defaults.DnsTtl, allowZero: false),
            ErrorsOnly = raw.Errors,
            StatusCodes = [.. raw.StatusCodes.Select(v => ParseInt(Flags.StatusCode, v, 100, 599))],
            HostBalance = ParseHostBalance(raw.HostBalance),
            TlsMax = ParseTlsMax(raw.TlsMax),
            Limits = limits with
            {
                HeaderTimeout = Duration(Flags.HeaderTimeout, raw.HeaderTimeout, limits.HeaderTimeout, allowZero: false),
                IdleTimeout = Duration(Flags.IdleTimeout, raw.IdleTimeout, limits.IdleTimeout, allowZero: false),
                MaxHeaderBytes = raw.MaxHeaderBytes is null ? limits.MaxHeaderBytes : ParseInt(Flags.MaxHeaderBytes, raw.MaxHeaderBytes, 1024, 1024 * 1024),
                MaxHeaderCount = raw.MaxHeaderCount is null ? limits.MaxHeaderCount : ParseInt(Flags.MaxHeaderCount, raw.MaxHeaderCount, 1, 10_000),
                ShutdownTimeout = Duration(Flags.ShutdownTimeout, raw.ShutdownTimeout, limits.ShutdownTimeout, allowZero: true),
            },
        };
    }

    /// <summary>The fatal part (exit 1): listen address and sites. Throws <see cref="ConfigException"/>.</summary>
    public static SidekickOptions WithSites(SidekickOptions options, IReadOnlyList<string> sites)
    {
        ArgumentNullException.ThrowIfNull(options);
        var endPoint = ListenAddress.Parse(options.Address);
        return options with
        {
            ListenEndPoint = endPoint,
            Sites = Sites.Build(sites, options.HealthPath, options.ReadHealthPath, options.HealthPort),
        };
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static TimeSpan Duration(string flag, string? text, TimeSpan fallback, bool allowZero)
    {
        if (text is null)
        {
            return fallback;
        }

        if (!GoDuration.TryParse(text, out var value, out var error))
        {
            throw Invalid(flag, text, error);
        }

        // A6, A22: the original crashed on non-positive durations; refuse them up front.
        if (value < TimeSpan.Zero || (value == TimeSpan.Zero && !allowZero))
        {
            throw Invalid(flag, text, allowZero ? "must not be negative" : "must be positive");
        }

        return value;
    }

    private static int ParseInt(string flag, string text, int min, int max)
    {
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            throw Invalid(flag, text, "not an integer");
        }

        return value < min || value > max
            ? throw Invalid(flag, text, string.Create(CultureInfo.InvariantCulture, $"must be in [{min}, {max}]"))
            : value;
    }

    private static TraceMode ParseTrace(string? text) => text switch
    {
        null or "all" => TraceMode.All,
        "" => TraceMode.None,
        "application" => TraceMode.Application,
        "minio" => TraceMode.MinIO,

        // A13: the original silently traced everything for unknown values.
        _ => throw Invalid(Flags.Trace, text, "supported values are all, application, minio, or \"\" to disable"),
    };

    private static HostBalance ParseHostBalance(string? text) => text switch
    {
        null or "" or "least" => HostBalance.Least,
        "random" => HostBalance.Random,

        // A25: the original silently used random for unknown values.
        _ => throw Invalid(Flags.HostBalance, text, "supported values are 'least', 'random'"),
    };

    private static TlsMaxVersion ParseTlsMax(string? text) => text switch
    {
        null or "1.3" => TlsMaxVersion.Tls13,
        "1.2" => TlsMaxVersion.Tls12,
        _ => throw new UsageException($"invalid TLS max version specified '{text}' - supported values [1.2, 1.3]"),
    };

    private static UsageException Invalid(string flag, string value, string reason) =>
        new($"invalid value {GoDuration.Quote(value)} for flag --{flag}: {reason}");
}
