using Sidekick.Cli;

namespace Sidekick.Tests.Cli;

public class ArgumentNormaliserTests
{
    private const string Site = "http://minio{1...4}:9000";

    private static NormalisedArguments Normalise(params string[] args) => ArgumentNormaliser.Normalise(args);

    [TestCase("--health-path", "/ready")]
    [TestCase("-health-path", "/ready")]
    [TestCase("-p", "/ready")]
    [TestCase("--p", "/ready")]
    public void Normalise_ValueAsNextArgument_BecomesCanonical(string flag, string value)
    {
        var result = Normalise(flag, value, Site);
        result.Tokens.ShouldBe(["--health-path=/ready", "--", Site]);
        result.Sites.ShouldBe([Site]);
    }

    [TestCase("--health-path=/ready")]
    [TestCase("-health-path=/ready")]
    [TestCase("-p=/ready")]
    [TestCase("--p=/ready")]
    public void Normalise_ValueAfterEquals_BecomesCanonical(string arg)
    {
        Normalise(arg, Site).Tokens.ShouldBe(["--health-path=/ready", "--", Site]);
    }

    [Test]
    public void Normalise_ValueContainingEquals_KeepsEverythingAfterTheFirst()
    {
        Normalise("--health-path=/a=b", Site).Tokens[0].ShouldBe("--health-path=/a=b");
    }

    [TestCase("--log")]
    [TestCase("-log")]
    [TestCase("-l")]
    [TestCase("--l")]
    [TestCase("--log=true")]
    [TestCase("-l=1")]
    [TestCase("--log=t")]
    [TestCase("--log=T")]
    [TestCase("--log=TRUE")]
    [TestCase("--log=True")]
    public void Normalise_TrueBool_EmitsTheFlag(string arg)
    {
        Normalise(arg, Site).Tokens.ShouldBe(["--log", "--", Site]);
    }

    [TestCase("--log=false")]
    [TestCase("--log=0")]
    [TestCase("--log=f")]
    [TestCase("--log=F")]
    [TestCase("--log=FALSE")]
    [TestCase("--log=False")]
    public void Normalise_FalseBool_EmitsNothing(string arg)
    {
        var result = Normalise(arg, Site);
        result.Tokens.ShouldBe(["--", Site]);
        result.Given.ShouldContain("log");
    }

    [Test]
    public void Normalise_BoolFollowedByValue_DoesNotConsumeIt()
    {
        var result = Normalise("--insecure", "false", Site);
        result.Tokens.ShouldBe(["--insecure", "--", "false", Site]);
        result.Sites.ShouldBe(["false", Site]);
    }

    [Test]
    public void Normalise_BoolWithBadValue_Throws()
    {
        Should.Throw<UsageException>(() => Normalise("--log=yes", Site))
            .Message.ShouldBe("invalid boolean value \"yes\" for flag --log: must be true or false");
    }

    [Test]
    public void Normalise_FirstNonFlag_StopsFlagParsing()
    {
        var result = Normalise("-a", ":9000", "http://a:1", "http://b:2");
        result.Sites.ShouldBe(["http://a:1", "http://b:2"]);
        result.Tokens.ShouldBe(["--address=:9000", "--", "http://a:1", "http://b:2"]);
    }

    [Test]
    public void Normalise_LoneDash_IsASite()
    {
        Normalise("-l", "-", "http://b:2").Sites.ShouldBe(["-", "http://b:2"]);
    }

    [Test]
    public void Normalise_DoubleDash_EndsFlagsAndIsDropped()
    {
        var result = Normalise("--log", "--", "-odd", "--health-path");
        result.Sites.ShouldBe(["-odd", "--health-path"]);
        result.Tokens.ShouldBe(["--log", "--", "-odd", "--health-path"]);
    }

    [TestCase("--health-path", "/x")]
    [TestCase("-l")]
    [TestCase("--log=true")]
    public void Normalise_FlagAfterSite_ThrowsNamingFlagAndSite(params string[] tail)
    {
        string[] args = ["--json", "http://a:1", .. tail];
        var shown = tail[0].Split('=')[0];
        Should.Throw<UsageException>(() => ArgumentNormaliser.Normalise(args))
            .Message.ShouldBe($"flag {shown} given after site http://a:1: flags must come before the sites");
    }

    [Test]
    public void Normalise_FlagAfterSecondSite_NamesTheSiteBeforeIt()
    {
        Should.Throw<UsageException>(() => Normalise("http://a:1", "http://b:2", "--debug"))
            .Message.ShouldBe("flag --debug given after site http://b:2: flags must come before the sites");
    }

    [TestCase("--address")]
    [TestCase("-a")]
    [TestCase("--status-code")]
    public void Normalise_ValueFlagAtTheEnd_ThrowsNeedsArgument(string flag)
    {
        Should.Throw<UsageException>(() => Normalise("--log", flag)).Message.ShouldBe($"flag needs an argument: {flag}");
    }

    [TestCase("--bogus", "bogus")]
    [TestCase("-x", "x")]
    [TestCase("--Log", "Log")]
    [TestCase("--tls=1.2", "tls")]
    public void Normalise_UnknownFlag_ThrowsNotDefined(string arg, string name)
    {
        Should.Throw<UsageException>(() => Normalise(arg, Site)).Message.ShouldBe($"flag provided but not defined: -{name}");
    }

    [TestCase("---log")]
    [TestCase("--=x")]
    [TestCase("-=x")]
    public void Normalise_BadSyntax_Throws(string arg)
    {
        Should.Throw<UsageException>(() => Normalise(arg, Site)).Message.ShouldBe($"bad flag syntax: {arg}");
    }

    [Test]
    public void Normalise_RepeatedStatusCode_KeepsEveryOccurrence()
    {
        Normalise("--status-code", "404", "--status-code=503", Site).Tokens
            .ShouldBe(["--status-code=404", "--status-code=503", "--", Site]);
    }

    [Test]
    public void Normalise_RepeatedScalarFlag_KeepsTheLast()
    {
        Normalise("-a", ":1", "--address", ":2", Site).Tokens.ShouldBe(["--address=:2", "--", Site]);
    }

    [Test]
    public void Normalise_BoolSetThenCleared_LastWins()
    {
        Normalise("--log", "--log=false", Site).Tokens.ShouldBe(["--", Site]);
    }

    [Test]
    public void Normalise_ValueStartingWithDash_IsTakenVerbatim()
    {
        // Go's flag package takes the next argument as the value whatever it looks like (A13).
        Normalise("-t", "-l", Site).Tokens.ShouldBe(["--trace=-l", "--", Site]);
    }

    [Test]
    public void Normalise_EmptyValue_IsPassedAsASeparateToken()
    {
        Normalise("--trace=", Site).Tokens.ShouldBe(["--trace", string.Empty, "--", Site]);
        Normalise("--trace", string.Empty, Site).Tokens.ShouldBe(["--trace", string.Empty, "--", Site]);
    }

    [Test]
    public void Normalise_ValueStartingWithSpace_IsPassedAsASeparateToken()
    {
        Normalise("--auto-tls-host", " a, b", Site).Tokens.ShouldBe(["--auto-tls-host", " a, b", "--", Site]);
    }

    [Test]
    public void Normalise_DashValueWithLineBreak_Throws()
    {
        Should.Throw<UsageException>(() => Normalise("--trace=-a\nb", Site))
            .Message.ShouldBe("invalid value for flag --trace: line breaks are not supported");
    }

    [TestCase("-h", true, false)]
    [TestCase("--help", true, false)]
    [TestCase("-v", false, true)]
    [TestCase("--version", false, true)]
    [TestCase("--help=false", false, false)]
    public void Normalise_HelpAndVersion_AreReportedNotEmitted(string arg, bool help, bool version)
    {
        var result = Normalise(arg);
        result.Help.ShouldBe(help);
        result.Version.ShouldBe(version);
        result.Tokens.ShouldBe(["--"]);
    }

    [Test]
    public void Normalise_HelpBeforeAnError_WinsOverTheError()
    {
        Normalise("-h", "--bogus", "http://a:1", "--log").Help.ShouldBeTrue();
        Should.Throw<UsageException>(() => Normalise("--bogus", "-h"));
    }

    [Test]
    public void Normalise_EveryAlias_MapsToItsLongName()
    {
        var result = Normalise("-a", ":1", "-p", "/h", "-r", "/r", "-d", "1s", "-i", "-l", "-t", "minio", "-q", "-e", Site);
        result.Tokens.ShouldBe(
            ["--address=:1", "--health-path=/h", "--read-health-path=/r", "--health-duration=1s", "--insecure", "--log", "--trace=minio", "--quiet", "--errors", "--", Site]);
        result.Given.ShouldBe(["address", "health-path", "read-health-path", "health-duration", "insecure", "log", "trace", "quiet", "errors"], ignoreOrder: true);
    }
}
