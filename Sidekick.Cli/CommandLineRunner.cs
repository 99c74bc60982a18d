using System.Reflection;
using Sidekick.Core.Config;

namespace Sidekick.Cli;

/// <summary>What the command line decided: an exit code now, or options to run with.</summary>
internal readonly record struct CliOutcome(int ExitCode, SidekickOptions? Options);

/// <summary>
/// The command line end to end, testable without a process: arguments in, text out, an exit code or options back.
/// Exit codes: 0 help/version; 1 no SITE (A1) or a fatal configuration error (A29); 2 a usage error
/// (the original printed "Incorrect Usage" and exited 0, A28).
/// </summary>
internal static class CommandLineRunner
{
    public const int Ok = 0;
    public const int Fatal = 1;
    public const int Usage = 2;

    /// <summary>Parses and, when the options are complete, runs <paramref name="host"/>; returns the exit code.</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, Func<SidekickOptions, int> host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var outcome = Parse(args, stdout, stderr);
        return outcome.Options is null ? outcome.ExitCode : host(outcome.Options);
    }

    public static CliOutcome Parse(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        SidekickOptions flags;
        NormalisedArguments normalised;
        try
        {
            normalised = ArgumentNormaliser.Normalise(args);
            if (normalised.Help)
            {
                stdout.Write(HelpText.Text);
                return new CliOutcome(Ok, null);
            }

            if (normalised.Version)
            {
                stdout.WriteLine($"sidekick version {Version}");
                return new CliOutcome(Ok, null);
            }

            flags = OptionsBuilder.FromFlags(OptionsBuilder.Map(normalised), normalised.Given);
        }
        catch (UsageException e)
        {
            return Fail(stderr, Usage, e.Message);
        }

        if (normalised.Sites.Count == 0)
        {
            stdout.Write(HelpText.Text);
            return new CliOutcome(Fatal, null);
        }

        try
        {
            return new CliOutcome(Ok, OptionsBuilder.WithSites(flags, normalised.Sites));
        }
        catch (ConfigException e)
        {
            return Fail(stderr, Fatal, e.Message);
        }
    }

    /// <summary>AssemblyInformationalVersion without the "+commit" suffix the SDK appends.</summary>
    public static string Version
    {
        get
        {
            var version = typeof(CommandLineRunner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                ?? typeof(CommandLineRunner).Assembly.GetName().Version?.ToString() ?? "unknown";
            var plus = version.IndexOf('+', StringComparison.Ordinal);
            return plus < 0 ? version : version[..plus];
        }
    }

    /// <summary>Exactly one line on stderr: <c>sidekick: message</c>.</summary>
    public static CliOutcome Fail(TextWriter stderr, int exitCode, string message)
    {
        ArgumentNullException.ThrowIfNull(stderr);
        ArgumentNullException.ThrowIfNull(message);
        stderr.WriteLine("sidekick: " + message.ReplaceLineEndings(" "));
        return new CliOutcome(exitCode, null);
    }
}
