namespace Sidekick.Cli;

/// <summary>One command-line flag: long name, optional one-letter alias, and whether it takes a value.</summary>
internal sealed record Flag(string Name, string? Alias, bool IsBool, bool Repeatable = false);

/// <summary>Every flag the command line knows, with the original's names and aliases (A2–A27) plus our data-plane limits.</summary>
internal static class Flags
{
    public const string Address = "address";
    public const string HealthPath = "health-path";
    public const string ReadHealthPath = "read-health-path";
    public const string HealthPort = "health-port";
    public const string HealthDuration = "health-duration";
    public const string HealthTimeout = "health-timeout";
    public const string HealthOptimistic = "health-optimistic";
    public const string Insecure = "insecure";
    public const string RrDnsMode = "rr-dns-mode";
    public const string AutoTlsHost = "auto-tls-host";
    public const string Log = "log";
    public const string Trace = "trace";
    public const string Quiet = "quiet";
    public const string Json = "json";
    public const string Debug = "debug";
    public const string CaCert = "cacert";
    public const string ClientCert = "client-cert";
    public const string ClientKey = "client-key";
    public const string Cert = "cert";
    public const string Key = "key";
    public const string KeyPassword = "key-password";
    public const string Pprof = "pprof";
    public const string DnsTtl = "dns-ttl";
    public const string Errors = "errors";
    public const string StatusCode = "status-code";
    public const string HostBalance = "host-balance";
    public const string TlsMax = "tls-max";
    public const string HeaderTimeout = "header-timeout";
    public const string IdleTimeout = "idle-timeout";
    public const string MaxHeaderBytes = "max-header-bytes";
    public const string MaxHeaderCount = "max-header-count";
    public const string ShutdownTimeout = "shutdown-timeout";
    public const string Version = "version";
    public const string Help = "help";

    public static readonly IReadOnlyList<Flag> All =
    [
        new(Address, "a", IsBool: false),
        new(HealthPath, "p", IsBool: false),
        new(ReadHealthPath, "r", IsBool: false),
        new(HealthPort, null, IsBool: false),
        new(HealthDuration, "d", IsBool: false),
        new(HealthTimeout, null, IsBool: false),
        new(HealthOptimistic, null, IsBool: true),
        new(Insecure, "i", IsBool: true),
        new(RrDnsMode, null, IsBool: true),
        new(AutoTlsHost, null, IsBool: false),
        new(Log, "l", IsBool: true),
        new(Trace, "t", IsBool: false),
        new(Quiet, "q", IsBool: true),
        new(Json, null, IsBool: true),
        new(Debug, null, IsBool: true),
        new(CaCert, null, IsBool: false),
        new(ClientCert, null, IsBool: false),
        new(ClientKey, null, IsBool: false),
        new(Cert, null, IsBool: false),
        new(Key, null, IsBool: false),
        new(KeyPassword, null, IsBool: false),
        new(Pprof, null, IsBool: false),
        new(DnsTtl, null, IsBool: false),
        new(Errors, "e", IsBool: true),
        new(StatusCode, null, IsBool: false, Repeatable: true),
        new(HostBalance, null, IsBool: false),
        new(TlsMax, null, IsBool: false),
        new(HeaderTimeout, null, IsBool: false),
        new(IdleTimeout, null, IsBool: false),
        new(MaxHeaderBytes, null, IsBool: false),
        new(MaxHeaderCount, null, IsBool: false),
        new(ShutdownTimeout, null, IsBool: false),
        new(Version, "v", IsBool: true),
        new(Help, "h", IsBool: true),
    ];

    private static readonly Dictionary<string, Flag> ByName = All
        .SelectMany(f => f.Alias is null ? new[] { (f.Name, f) } : [(f.Name, f), (f.Alias, f)])
        .ToDictionary(p => p.Item1, p => p.f, StringComparer.Ordinal);

    /// <summary>Finds a flag by long name or alias (case sensitive, as Go's flag package).</summary>
    public static Flag? Find(string name) => ByName.GetValueOrDefault(name);
}
