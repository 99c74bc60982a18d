using System.Net;
using Sidekick.Cli;
using Sidekick.Core.Config;

namespace Sidekick.Tests.Cli;

public class CommandLineRunnerTests
{
    private const string Site = "http://minio{1...4}:9000";

    private sealed record Outcome(int ExitCode, string Out, string Err, SidekickOptions? Options);

    private static Outcome Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        SidekickOptions? seen = null;
        var code = CommandLineRunner.Run(args, stdout, stderr, o =>
        {
            seen = o;
            return 42;
        });
        return new Outcome(code, stdout.ToString(), stderr.ToString(), seen);
    }

    private static SidekickOptions Options(params string[] args)
    {
        var outcome = Run(args);
        outcome.Err.ShouldBeEmpty();
        outcome.ExitCode.ShouldBe(42);
        return outcome.Options.ShouldNotBeNull();
    }

    private static void ShouldBeUsageError(Outcome outcome, string message)
    {
        outcome.ExitCode.ShouldBe(2);
        outcome.Err.ShouldBe("sidekick: " + message + Environment.NewLine);
        outcome.Out.ShouldBeEmpty();
        outcome.Options.ShouldBeNull();
    }

    private static void ShouldBeFatal(Outcome outcome, string message)
    {
        outcome.ExitCode.ShouldBe(1);
        outcome.Err.ShouldBe("sidekick: " + message + Environment.NewLine);
        outcome.Options.ShouldBeNull();
    }

    [Test]
    public void Run_OnlyASite_UsesTheOriginalDefaults()
    {
        var o = Options(Site);
        o.Address.ShouldBe(":8080");
        o.ListenEndPoint.ShouldBe(new IPEndPoint(IPAddress.IPv6Any, 8080));
        o.HealthPath.ShouldBe("/");
        o.ReadHealthPath.ShouldBe("/");
        o.HealthPort.ShouldBe(0);
        o.HealthDuration.ShouldBe(TimeSpan.FromSeconds(5));
        o.HealthTimeout.ShouldBe(TimeSpan.FromSeconds(10));
        o.DnsTtl.ShouldBe(TimeSpan.FromMinutes(10));
        o.Trace.ShouldBe(TraceMode.All);
        o.TraceExplicit.ShouldBeFalse();
        o.HostBalance.ShouldBe(HostBalance.Least);
        o.TlsMax.ShouldBe(TlsMaxVersion.Tls13);
        o.AutoTlsHosts.ShouldBeEmpty();
        o.StatusCodes.ShouldBeEmpty();
        o.CertFile.ShouldBeNull();
        o.Limits.ShouldBe(new ProxyLimits());
        o.Sites.Length.ShouldBe(1);
        o.Sites[0].Backends.Select(b => b.HealthUrl.OriginalString).ShouldBe(
            ["http://minio1:9000/", "http://minio2:9000/", "http://minio3:9000/", "http://minio4:9000/"]);
    }

    [Test]
    public void Run_EveryFlag_FillsEveryOption()
    {
        var o = Options(
            "-a", "127.0.0.1:9000", "-p", "minio/health/ready", "-r", "/minio/health/cluster/read", "--health-port", "4242",
            "-d", "1m30s", "--health-timeout", "2s", "--health-optimistic", "-i", "--rr-dns-mode", "--auto-tls-host", " a.example, ,10.0.0.1 ",
            "-l", "-t", "application", "-q", "--json", "--debug", "--cacert", "ca.pem", "--client-cert", "c.pem", "--client-key", "c.key",
            "--cert", "s.pem", "--key", "s.key", "--key-password", "pw", "--pprof", ":1337", "--dns-ttl", "30s", "-e",
            "--status-code", "404", "--status-code", "503", "--host-balance", "random", "--tls-max", "1.2",
            "--header-timeout", "5s", "--idle-timeout", "1m", "--max-header-bytes", "1024", "--max-header-count", "10000",
            "--shutdown-timeout", "0", "http://a:1", "http://b{1...2}:2");
        o.Address.ShouldBe("127.0.0.1:9000");
        o.ListenEndPoint.ShouldBe(new IPEndPoint(IPAddress.Loopback, 9000));
        o.HealthPath.ShouldBe("/minio/health/ready");
        o.ReadHealthPath.ShouldBe("/minio/health/cluster/read");
        o.HealthPort.ShouldBe(4242);
        o.HealthDuration.ShouldBe(TimeSpan.FromSeconds(90));
        o.HealthTimeout.ShouldBe(TimeSpan.FromSeconds(2));
        o.HealthOptimistic.ShouldBeTrue();
        o.Insecure.ShouldBeTrue();
        o.RoundRobinDns.ShouldBeTrue();
        o.AutoTlsHosts.ShouldBe(["a.example", "10.0.0.1"]);
        o.Log.ShouldBeTrue();
        o.Trace.ShouldBe(TraceMode.Application);
        o.TraceExplicit.ShouldBeTrue();
        o.Quiet.ShouldBeTrue();
        o.Json.ShouldBeTrue();
        o.Debug.ShouldBeTrue();
        o.CaCertFile.ShouldBe("ca.pem");
        o.ClientCertFile.ShouldBe("c.pem");
        o.ClientKeyFile.ShouldBe("c.key");
        o.CertFile.ShouldBe("s.pem");
        o.KeyFile.ShouldBe("s.key");
        o.KeyPassword.ShouldBe("pw");
        o.PprofAddress.ShouldBe(":1337");
        o.DnsTtl.ShouldBe(TimeSpan.FromSeconds(30));
        o.ErrorsOnly.ShouldBeTrue();
        o.StatusCodes.ShouldBe([404, 503]);
        o.HostBalance.ShouldBe(HostBalance.Random);
        o.TlsMax.ShouldBe(TlsMaxVersion.Tls12);
        o.Limits.HeaderTimeout.ShouldBe(TimeSpan.FromSeconds(5));
        o.Limits.IdleTimeout.ShouldBe(TimeSpan.FromMinutes(1));
        o.Limits.MaxHeaderBytes.ShouldBe(1024);
        o.Limits.MaxHeaderCount.ShouldBe(10000);
        o.Limits.ShutdownTimeout.ShouldBe(TimeSpan.Zero);
        o.Sites.Length.ShouldBe(2);
        o.Sites[0].Backends[0].HealthUrl.OriginalString.ShouldBe("http://a:4242/minio/health/ready");
        o.Sites[1].Backends.Select(b => b.HealthUrl.OriginalString).ShouldBe(
            ["http://b1:4242/minio/health/cluster/read", "http://b2:4242/minio/health/cluster/read"]);
    }

    [TestCase("all", TraceMode.All)]
    [TestCase("application", TraceMode.Application)]
    [TestCase("minio", TraceMode.MinIO)]
    [TestCase("", TraceMode.None)]
    public void Run_TraceValue_SetsModeAndExplicit(string value, TraceMode mode)
    {
        var o = Options("--trace=" + value, Site);
        o.Trace.ShouldBe(mode);
        o.TraceExplicit.ShouldBeTrue();
    }

    [TestCase("", HostBalance.Least)]
    [TestCase("least", HostBalance.Least)]
    [TestCase("random", HostBalance.Random)]
    public void Run_HostBalance_MapsValue(string value, HostBalance expected)
    {
        Options("--host-balance", value, Site).HostBalance.ShouldBe(expected);
    }

    [Test]
    public void Run_EmptyHealthPathWithReadPath_KeepsThemApart()
    {
        var o = Options("--read-health-path", "read", Site);
        o.HealthPath.ShouldBe("/");
        o.ReadHealthPath.ShouldBe("/read");
    }

    [Test]
    public void Run_Help_PrintsHelpAndExitsZero()
    {
        var outcome = Run("--help");
        outcome.ExitCode.ShouldBe(0);
        outcome.Out.ShouldBe(HelpText.Text);
        outcome.Err.ShouldBeEmpty();
        Run("-h", Site).Out.ShouldBe(HelpText.Text);
    }

    [Test]
    public void Run_Version_PrintsVersionWithoutCommitHash()
    {
        var outcome = Run("-v");
        outcome.ExitCode.ShouldBe(0);
        outcome.Out.ShouldBe("sidekick version 0.1.0" + Environment.NewLine);
        outcome.Out.ShouldNotContain("+");
        Run("--version", Site).Options.ShouldBeNull();
    }

    [Test]
    public void Run_NoSite_PrintsHelpAndExitsOne()
    {
        var outcome = Run();
        outcome.ExitCode.ShouldBe(1);
        outcome.Out.ShouldBe(HelpText.Text);
        outcome.Err.ShouldBeEmpty();
        Run("--log").ExitCode.ShouldBe(1);
    }

    [TestCase(new[] { "--bogus", Site }, "flag provided but not defined: -bogus")]
    [TestCase(new[] { "--address" }, "flag needs an argument: --address")]
    [TestCase(new[] { Site, "--health-path", "/x" }, "flag --health-path given after site http://minio{1...4}:9000: flags must come before the sites")]
    [TestCase(new[] { "--log=maybe", Site }, "invalid boolean value \"maybe\" for flag --log: must be true or false")]
    [TestCase(new[] { "--health-duration", "5", Site }, "invalid value \"5\" for flag --health-duration: time: missing unit in duration \"5\"")]
    [TestCase(new[] { "--health-duration", "1d", Site }, "invalid value \"1d\" for flag --health-duration: time: unknown unit \"d\" in duration \"1d\"")]
    [TestCase(new[] { "--health-duration", "0s", Site }, "invalid value \"0s\" for flag --health-duration: must be positive")]
    [TestCase(new[] { "--health-timeout", "-1s", Site }, "invalid value \"-1s\" for flag --health-timeout: must be positive")]
    [TestCase(new[] { "--dns-ttl", "0", Site }, "invalid value \"0\" for flag --dns-ttl: must be positive")]
    [TestCase(new[] { "--header-timeout", "0", Site }, "invalid value \"0\" for flag --header-timeout: must be positive")]
    [TestCase(new[] { "--idle-timeout", "x", Site }, "invalid value \"x\" for flag --idle-timeout: time: invalid duration \"x\"")]
    [TestCase(new[] { "--shutdown-timeout", "-1s", Site }, "invalid value \"-1s\" for flag --shutdown-timeout: must not be negative")]
    [TestCase(new[] { "--max-header-bytes", "1023", Site }, "invalid value \"1023\" for flag --max-header-bytes: must be in [1024, 1048576]")]
    [TestCase(new[] { "--max-header-bytes", "1048577", Site }, "invalid value \"1048577\" for flag --max-header-bytes: must be in [1024, 1048576]")]
    [TestCase(new[] { "--max-header-count", "0", Site }, "invalid value \"0\" for flag --max-header-count: must be in [1, 10000]")]
    [TestCase(new[] { "--max-header-count", "10001", Site }, "invalid value \"10001\" for flag --max-header-count: must be in [1, 10000]")]
    [TestCase(new[] { "--health-port", "abc", Site }, "invalid value \"abc\" for flag --health-port: not an integer")]
    [TestCase(new[] { "--status-code", "99", Site }, "invalid value \"99\" for flag --status-code: must be in [100, 599]")]
    [TestCase(new[] { "--status-code", "600", Site }, "invalid value \"600\" for flag --status-code: must be in [100, 599]")]
    [TestCase(new[] { "--status-code", "4xx", Site }, "invalid value \"4xx\" for flag --status-code: not an integer")]
    [TestCase(new[] { "--trace", "errors", Site }, "invalid value \"errors\" for flag --trace: supported values are all, application, minio, or \"\" to disable")]
    [TestCase(new[] { "-t", "-l", Site }, "invalid value \"-l\" for flag --trace: supported values are all, application, minio, or \"\" to disable")]
    [TestCase(new[] { "--host-balance", "roundrobin", Site }, "invalid value \"roundrobin\" for flag --host-balance: supported values are 'least', 'random'")]
    [TestCase(new[] { "--tls-max", "1.1", Site }, "invalid TLS max version specified '1.1' - supported values [1.2, 1.3]")]
    [TestCase(new[] { "--cert", "s.pem", Site }, "--cert and --key must be given together")]
    [TestCase(new[] { "--key", "s.key", Site }, "--cert and --key must be given together")]
    [TestCase(new[] { "--client-cert", "c.pem", Site }, "--client-cert and --client-key must be given together")]
    [TestCase(new[] { "--client-key", "c.key", Site }, "--client-cert and --client-key must be given together")]
    public void Run_UsageError_PrintsOneLineAndExitsTwo(string[] args, string message)
    {
        ShouldBeUsageError(Run(args), message);
    }

    [Test]
    public void Run_UsageErrorWithoutSite_IsStillAUsageError()
    {
        ShouldBeUsageError(Run("--health-duration", "5"), "invalid value \"5\" for flag --health-duration: time: missing unit in duration \"5\"");
    }

    [TestCase(new[] { "bad" }, "missing host address bad, please use 'sidekick --help'")]
    [TestCase(new[] { "minio1:9000" }, "unexpected scheme minio1 in minio1:9000, please use 'http' or 'https'")]
    [TestCase(new[] { "http://a:1,https://b:1" }, "all endpoints of site http://a:1,https://b:1 must use the same scheme")]
    [TestCase(new[] { "http://h{3...1}:9000" }, "unable to parse input arg http://h{3...1}:9000: incorrect range start 3 cannot be bigger than end 1")]
    [TestCase(new[] { "http://h{1...20000}:9000" }, "unable to parse input arg http://h{1...20000}:9000: range expands to 20000 endpoints, more than the limit of 10000")]
    [TestCase(new[] { "--health-port", "-1", "http://a:1" }, "invalid health check port \"-1\": must be in [0, 65535]")]
    [TestCase(new[] { "--health-port", "65536", "http://a:1" }, "invalid health check port \"65536\": must be in [0, 65535]")]
    [TestCase(new[] { "--address", "8080", "http://a:1" }, "invalid --address \"8080\": missing port in address")]
    public void Run_ConfigError_PrintsOneLineAndExitsOne(string[] args, string message)
    {
        ShouldBeFatal(Run(args), message);
    }

    [Test]
    public void Run_DoubleDashAfterSite_IsAUsageError()
    {
        ShouldBeUsageError(Run("http://a:1", "--"), "flag -- given after site http://a:1: flags must come before the sites");
    }

    [Test]
    public void Run_SiteAfterDoubleDash_IsTakenAsASite()
    {
        ShouldBeFatal(Run("--", "-x"), "missing host address -x, please use 'sidekick --help'");
    }

    [Test]
    public void Run_Success_ReturnsTheHostExitCode()
    {
        Run("http://a:1").ExitCode.ShouldBe(42);
    }
}
