using CommandLine;

namespace Sidekick.Cli;

/// <summary>
/// The typed target of CommandLineParser. Values stay text here: their checks and messages (Go durations, ranges,
/// the original's wording) live in <see cref="OptionsBuilder"/>. Short aliases were already mapped by the normaliser.
/// </summary>
internal sealed class RawFlags
{
    [Option(Flags.Address)]
    public string? Address { get; set; }

    [Option(Flags.HealthPath)]
    public string? HealthPath { get; set; }

    [Option(Flags.ReadHealthPath)]
    public string? ReadHealthPath { get; set; }

    [Option(Flags.HealthPort)]
    public string? HealthPort { get; set; }

    [Option(Flags.HealthDuration)]
    public string? HealthDuration { get; set; }

    [Option(Flags.HealthTimeout)]
    public string? HealthTimeout { get; set; }

    [Option(Flags.HealthOptimistic)]
    public bool HealthOptimistic { get; set; }

    [Option(Flags.Insecure)]
    public bool Insecure { get; set; }

    [Option(Flags.RrDnsMode)]
    public bool RrDnsMode { get; set; }

    [Option(Flags.AutoTlsHost)]
    public string? AutoTlsHost { get; set; }

    [Option(Flags.Log)]
    public bool Log { get; set; }

    [Option(Flags.Trace)]
    public string? Trace { get; set; }

    [Option(Flags.Quiet)]
    public bool Quiet { get; set; }

    [Option(Flags.Json)]
    public bool Json { get; set; }

    [Option(Flags.Debug)]
    public bool Debug { get; set; }

    [Option(Flags.CaCert)]
    public string? CaCert { get; set; }

    [Option(Flags.ClientCert)]
    public string? ClientCert { get; set; }

    [Option(Flags.ClientKey)]
    public string? ClientKey { get; set; }

    [Option(Flags.Cert)]
    public string? Cert { get; set; }

    [Option(Flags.Key)]
    public string? Key { get; set; }

    [Option(Flags.KeyPassword)]
    public string? KeyPassword { get; set; }

    [Option(Flags.Pprof)]
    public string? Pprof { get; set; }

    [Option(Flags.DnsTtl)]
    public string? DnsTtl { get; set; }

    [Option(Flags.Errors)]
    public bool Errors { get; set; }

    [Option(Flags.StatusCode)]
    public IEnumerable<string> StatusCodes { get; set; } = [];

    [Option(Flags.HostBalance)]
    public string? HostBalance { get; set; }

    [Option(Flags.TlsMax)]
    public string? TlsMax { get; set; }

    [Option(Flags.HeaderTimeout)]
    public string? HeaderTimeout { get; set; }

    [Option(Flags.IdleTimeout)]
    public string? IdleTimeout { get; set; }

    [Option(Flags.MaxHeaderBytes)]
    public string? MaxHeaderBytes { get; set; }

    [Option(Flags.MaxHeaderCount)]
    public string? MaxHeaderCount { get; set; }

    [Option(Flags.ShutdownTimeout)]
    public string? ShutdownTimeout { get; set; }

    [Value(0)]
    public IEnumerable<string> Sites { get; set; } = [];
}
