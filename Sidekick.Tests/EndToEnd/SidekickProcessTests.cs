using System.Diagnostics;
using System.Text;

namespace Sidekick.Tests.EndToEnd;

/// <summary>The built <c>sidekick.dll</c> started as a user would, through <c>dotnet</c>.</summary>
public class SidekickProcessTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static string SidekickDll
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "sidekick.dll");
            File.Exists(path).ShouldBeTrue($"{path} should be copied next to the tests (project reference to Sidekick.Cli)");
            return path;
        }
    }

    private sealed record Finished(int ExitCode, string Out, string Err);

    private static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(SidekickDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        return Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit((int)Bound.TotalMilliseconds);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static async Task<Finished> RunAsync(params string[] args)
    {
        using var process = Start(args);
        try
        {
            using var timeout = new CancellationTokenSource(Bound);
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            return new Finished(process.ExitCode, await stdout, await stderr);
        }
        finally
        {
            Kill(process);
        }
    }

    [Test]
    public async Task Help_Flag_PrintsSectionsAndExitsZero()
    {
        var result = await RunAsync("--help");
        result.ExitCode.ShouldBe(0);
        result.Out.ShouldContain("FLAGS:");
        result.Out.ShouldContain("SITE:");
        result.Out.ShouldContain("EXAMPLES:");
        result.Err.ShouldBeEmpty();
    }

    [Test]
    public async Task Version_Flag_PrintsVersionAndExitsZero()
    {
        var result = await RunAsync("-v");
        result.ExitCode.ShouldBe(0);
        result.Out.ShouldMatch(@"^sidekick version \d+\.\d+\.\d+[^+\s]*\r?\n$");
    }

    [Test]
    public async Task NoArguments_PrintsHelpAndExitsOne()
    {
        var result = await RunAsync();
        result.ExitCode.ShouldBe(1);
        result.Out.ShouldContain("USAGE:");
        result.Err.ShouldBeEmpty();
    }

    [TestCase(new[] { "--bogus", "http://127.0.0.1:9" }, 2, "sidekick: flag provided but not defined: -bogus")]
    [TestCase(new[] { "--health-duration", "5", "http://127.0.0.1:9" }, 2, "sidekick: invalid value \"5\" for flag --health-duration: time: missing unit in duration \"5\"")]
    [TestCase(new[] { "http://127.0.0.1:9", "--health-path", "/x" }, 2, "sidekick: flag --health-path given after site http://127.0.0.1:9: flags must come before the sites")]
    [TestCase(new[] { "--tls-max", "1.0", "http://127.0.0.1:9" }, 2, "sidekick: invalid TLS max version specified '1.0' - supported values [1.2, 1.3]")]
    [TestCase(new[] { "bad" }, 1, "sidekick: missing host address bad, please use 'sidekick --help'")]
    [TestCase(new[] { "http://h{1...10001}:9000" }, 1, "sidekick: unable to parse input arg http://h{1...10001}:9000: range expands to 10001 endpoints, more than the limit of 10000")]
    [TestCase(new[] { "--health-port", "65536", "http://127.0.0.1:9" }, 1, "sidekick: invalid health check port \"65536\": must be in [0, 65535]")]
    [TestCase(new[] { "--address", "127.0.0.1", "http://127.0.0.1:9" }, 1, "sidekick: invalid --address \"127.0.0.1\": missing port in address")]
    public async Task BadCommandLine_PrintsOneLineAndExits(string[] args, int exitCode, string line)
    {
        var result = await RunAsync(args);
        result.ExitCode.ShouldBe(exitCode);
        result.Err.TrimEnd('\r', '\n').ShouldBe(line);
        result.Out.ShouldBeEmpty();
    }

    [Test]
    public async Task ValidCommandLine_AnnouncesListening()
    {
        using var process = Start("--address", "127.0.0.1:0", "http://127.0.0.1:9");
        try
        {
            using var timeout = new CancellationTokenSource(Bound);
            string? line;
            var seen = new StringBuilder();
            for (var i = 0; i < 1000; i++)
            {
                line = await process.StandardOutput.ReadLineAsync(timeout.Token);
                if (line is null || line.StartsWith("sidekick: listening on '", StringComparison.Ordinal))
                {
                    seen.AppendLine(line);
                    break;
                }

                seen.AppendLine(line);
            }

            seen.ToString().ShouldContain("sidekick: listening on '");
            process.HasExited.ShouldBeFalse();
        }
        finally
        {
            Kill(process);
        }
    }
}
