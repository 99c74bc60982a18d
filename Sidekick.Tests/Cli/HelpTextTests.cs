using System.Text.RegularExpressions;
using Sidekick.Cli;
using Sidekick.Core.Config;

namespace Sidekick.Tests.Cli;

public class HelpTextTests
{
    private static readonly string[] Lines = HelpText.Text.Split('\n');

    [TestCase("NAME:")]
    [TestCase("USAGE:")]
    [TestCase("FLAGS:")]
    [TestCase("SITE:")]
    [TestCase("EXAMPLES:")]
    public void Text_Section_IsPresent(string header)
    {
        Lines.ShouldContain(header);
    }

    [Test]
    public void Text_NameAndUsage_AreTheOriginals()
    {
        HelpText.Text.ShouldContain("  sidekick - High-Performance sidecar load-balancer\n");
        HelpText.Text.ShouldContain("  sidekick [FLAGS] SITE1 [SITE2..]\n");
    }

    [Test]
    public void Text_EveryVisibleFlag_HasOneLineWithItsAlias()
    {
        foreach (var flag in Flags.All.Where(f => f.Name != Flags.TlsMax))
        {
            var line = Lines.Single(l => l.StartsWith($"  --{flag.Name} ", StringComparison.Ordinal) || l.StartsWith($"  --{flag.Name},", StringComparison.Ordinal));
            if (flag.Alias is not null)
            {
                line.ShouldContain($", -{flag.Alias}");
            }

            line.Contains(" value", StringComparison.Ordinal).ShouldBe(!flag.IsBool, line);
        }
    }

    [Test]
    public void Text_TlsMax_IsHidden()
    {
        HelpText.Text.ShouldNotContain("tls-max");
    }

    [Test]
    public void Text_Durations_AreNotDescribedAsSeconds()
    {
        HelpText.Text.ShouldNotContain("in seconds");
    }

    [Test]
    public void Text_Defaults_MatchTheOptions()
    {
        var options = new SidekickOptions();
        var limits = new ProxyLimits();
        string Default(string flag) =>
            Regex.Match(Lines.Single(l => l.StartsWith($"  --{flag}", StringComparison.Ordinal)), @"\(default: (.*)\)$").Groups[1].Value;

        Default(Flags.Address).ShouldBe($"\"{options.Address}\"");
        Default(Flags.HealthDuration).ShouldBe(GoDuration.Format(options.HealthDuration));
        Default(Flags.HealthTimeout).ShouldBe(GoDuration.Format(options.HealthTimeout));
        Default(Flags.DnsTtl).ShouldBe(GoDuration.Format(options.DnsTtl));
        Default(Flags.HeaderTimeout).ShouldBe(GoDuration.Format(limits.HeaderTimeout));
        Default(Flags.IdleTimeout).ShouldBe(GoDuration.Format(limits.IdleTimeout));
        Default(Flags.ShutdownTimeout).ShouldBe(GoDuration.Format(limits.ShutdownTimeout));
        Default(Flags.MaxHeaderBytes).ShouldBe(limits.MaxHeaderBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Default(Flags.MaxHeaderCount).ShouldBe(limits.MaxHeaderCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Default(Flags.Trace).ShouldBe("\"all\"");
        Default(Flags.HostBalance).ShouldBe("\"least\"");
    }

    [Test]
    public void Text_SevenExamples_AllParse()
    {
        var examples = Lines.Select(l => l.Trim()).Where(l => l.StartsWith("$ sidekick ", StringComparison.Ordinal)).ToList();
        examples.Count.ShouldBe(7);
        foreach (var example in examples)
        {
            var args = example["$ sidekick ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            var outcome = CommandLineRunner.Parse(args, stdout, stderr);
            stderr.ToString().ShouldBeEmpty(example);
            outcome.Options.ShouldNotBeNull(example);
        }
    }
}
