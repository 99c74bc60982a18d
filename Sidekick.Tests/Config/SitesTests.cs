using Sidekick.Core.Config;

namespace Sidekick.Tests.Config;

public class SitesTests
{
    // main_test.go of the original (section (b) items 1-3).
    [TestCase("http://minio1:9000", "/minio/health/ready", 0, "http://minio1:9000/minio/health/ready")]
    [TestCase("http://minio1:9000", "/minio/health/ready", 4242, "http://minio1:4242/minio/health/ready")]
    [TestCase("http://minio1:9000", "/minio/health/ready", 65535, "http://minio1:65535/minio/health/ready")]
    public void HealthUrlBuild_OriginalCases_MatchTheOriginal(string endpoint, string path, int port, string expected)
    {
        HealthUrl.Build(endpoint, path, port).OriginalString.ShouldBe(expected);
    }

    [Test]
    public void HealthUrlBuild_EndpointWithoutScheme_Throws()
    {
        Should.Throw<ConfigException>(() => HealthUrl.Build("bad", string.Empty, 0))
            .Message.ShouldBe("missing host address bad/, please use 'sidekick --help'");
    }

    [TestCase(-1)]
    [TestCase(65536)]
    public void HealthUrlBuild_PortOutOfRange_ThrowsOriginalMessage(int port)
    {
        Should.Throw<ConfigException>(() => HealthUrl.Build("http://minio1:9000", "/minio/health/ready", port))
            .Message.ShouldBe($"invalid health check port \"{port}\": must be in [0, 65535]");
    }

    [TestCase("http://h:9000", "/a//b/../c", 0, "http://h:9000/a/c")]
    [TestCase("http://h:9000", "/a/./b/", 0, "http://h:9000/a/b/")]
    [TestCase("http://h:9000", "/../x", 0, "http://h:9000/x")]
    [TestCase("http://h:9000", "/", 0, "http://h:9000/")]
    [TestCase("http://h:80", "/ready", 0, "http://h/ready")]
    [TestCase("https://h:443", "/ready", 0, "https://h/ready")]
    [TestCase("https://h:80", "/ready", 0, "https://h:80/ready")]
    [TestCase("http://h", "/ready", 8080, "http://h:8080/ready")]
    [TestCase("http://h:9000", "/ready", 80, "http://h/ready")]
    [TestCase("http://h:9000/prefix", "/ready", 0, "http://h:9000/prefix/ready")]
    [TestCase("http://h:9000/prefix/", "/ready", 0, "http://h:9000/prefix/ready")]
    [TestCase("http://[::1]:9000", "/ready", 0, "http://[::1]:9000/ready")]
    [TestCase("http://[::1]:9000", "/ready", 7000, "http://[::1]:7000/ready")]
    [TestCase("http://10.0.0.5:9000", "ready?x=1", 0, "http://10.0.0.5:9000/ready?x=1")]
    public void HealthUrlBuild_Endpoint_CleansPathAndPort(string endpoint, string path, int port, string expected)
    {
        HealthUrl.Build(endpoint, path, port).OriginalString.ShouldBe(expected);
    }

    [TestCase(null, "/")]
    [TestCase("", "/")]
    [TestCase("ready", "/ready")]
    [TestCase("/minio/health/ready", "/minio/health/ready")]
    public void NormalisePath_HealthPath_StartsWithSlash(string? path, string expected)
    {
        HealthUrl.NormalisePath(path).ShouldBe(expected);
    }

    [Test]
    public void Build_OneSite_UsesTheReadHealthPath()
    {
        var sites = Sites.Build(["http://h:9000"], "/ready", "/read", 0);
        sites[0].Backends[0].HealthUrl.OriginalString.ShouldBe("http://h:9000/read");
    }

    [Test]
    public void Build_TwoSites_OnlyTheLastUsesTheReadHealthPath()
    {
        var sites = Sites.Build(["http://a:9000", "http://b:9000"], "/ready", "/read", 0);
        sites[0].Backends[0].HealthUrl.OriginalString.ShouldBe("http://a:9000/ready");
        sites[1].Backends[0].HealthUrl.OriginalString.ShouldBe("http://b:9000/read");
        sites.Select(s => s.Number).ShouldBe([1, 2]);
        sites[1].Argument.ShouldBe("http://b:9000");
    }

    [Test]
    public void Build_NoReadHealthPath_FallsBackToTheHealthPath()
    {
        var sites = Sites.Build(["http://a:9000", "http://b:9000"], "ready", null, 0);
        sites[1].Backends[0].HealthUrl.OriginalString.ShouldBe("http://b:9000/ready");
    }

    [Test]
    public void Build_Pools_ConcatenatedInOrderWithDuplicates()
    {
        var site = Sites.Build(["http://h{1...2}:9000,http://x{1...1}:1,http://h{1...1}:9000"], "/", "/", 0)[0];
        site.Backends.Select(b => b.Endpoint).ShouldBe(["http://h1:9000", "http://h2:9000", "http://x1:1", "http://h1:9000"]);
    }

    [Test]
    public void Build_LiteralPools_AreUsedAsGiven()
    {
        var site = Sites.Build(["http://a:1,http://b:2/"], "/", "/", 0)[0];
        site.Backends.Select(b => b.Endpoint).ShouldBe(["http://a:1", "http://b:2"]);
    }

    [Test]
    public void Build_MixedLiteralAndEllipsesPools_UsesThemLiterallyAndFails()
    {
        Should.Throw<ConfigException>(() => Sites.Build(["http://h{1...2}:9000,http://x:9000"], "/", "/", 0))
            .Message.ShouldBe("invalid endpoint http://h{1...2}:9000: invalid host name h{1...2}");
    }

    [Test]
    public void Build_Endpoint_TrimsOneTrailingSlashAndParses()
    {
        var backend = Sites.Build(["https://minio1:9000/"], "/ready", "/ready", 0)[0].Backends[0];
        backend.Endpoint.ShouldBe("https://minio1:9000");
        backend.Uri.Scheme.ShouldBe("https");
        backend.Uri.Host.ShouldBe("minio1");
        backend.Uri.Port.ShouldBe(9000);
        backend.HealthUrl.OriginalString.ShouldBe("https://minio1:9000/ready");
    }

    [Test]
    public void Build_EndpointWithoutPort_UsesTheSchemeDefault()
    {
        var site = Sites.Build(["https://minio1"], "/", "/", 0)[0];
        site.Backends[0].Uri.Port.ShouldBe(443);
        site.Scheme.ShouldBe("https");
    }

    [TestCase("bad", "missing host address bad, please use 'sidekick --help'")]
    [TestCase("http://", "missing host address http:/, please use 'sidekick --help'")]
    [TestCase("http:///x", "missing host address http:///x, please use 'sidekick --help'")]
    [TestCase("http:minio", "missing host address http:minio, please use 'sidekick --help'")]
    [TestCase("minio1:9000", "unexpected scheme minio1 in minio1:9000, please use 'http' or 'https'")]
    [TestCase("ftp://h:21", "unexpected scheme ftp in ftp://h:21, please use 'http' or 'https'")]
    [TestCase("http://a_b:9000", "invalid endpoint http://a_b:9000: invalid host name a_b")]
    [TestCase("http://-a:9000", "invalid endpoint http://-a:9000: invalid host name -a")]
    [TestCase("http://a..b:9000", "invalid endpoint http://a..b:9000: invalid host name a..b")]
    [TestCase("http://a:0", "invalid endpoint http://a:0: port 0 must be a number in [1, 65535]")]
    [TestCase("http://a:65536", "invalid endpoint http://a:65536: port 65536 must be a number in [1, 65535]")]
    [TestCase("http://a:x", "invalid endpoint http://a:x: port x must be a number in [1, 65535]")]
    [TestCase("http://::1:9000", "invalid endpoint http://::1:9000: an IPv6 address must be in brackets")]
    [TestCase("http://[zz]:9000", "invalid endpoint http://[zz]:9000: invalid host name zz")]
    [TestCase("http://u:p@h:9000", "invalid endpoint http://u:p@h:9000: user information is not supported")]
    public void Build_BadEndpoint_ThrowsNamingIt(string site, string message)
    {
        Should.Throw<ConfigException>(() => Sites.Build([site], "/", "/", 0)).Message.ShouldBe(message);
    }

    [Test]
    public void Build_MixedSchemesInOneSite_Throws()
    {
        Should.Throw<ConfigException>(() => Sites.Build(["http://a:1,https://b:2"], "/", "/", 0))
            .Message.ShouldBe("all endpoints of site http://a:1,https://b:2 must use the same scheme");
    }

    [Test]
    public void Build_DifferentSchemesAcrossSites_IsAllowed()
    {
        var sites = Sites.Build(["http://a:1", "https://b:2"], "/", "/", 0);
        sites.Select(s => s.Scheme).ShouldBe(["http", "https"]);
    }

    [Test]
    public void Build_BadEllipses_WrapsWithTheArgument()
    {
        Should.Throw<ConfigException>(() => Sites.Build(["http://h{5...1}:9000"], "/", "/", 0))
            .Message.ShouldBe("unable to parse input arg http://h{5...1}:9000: incorrect range start 5 cannot be bigger than end 1");
    }

    [Test]
    public void Build_PoolsTogetherOverTheLimit_ThrowsNamingTheSite()
    {
        const string site = "http://a{1...5000}:9000,http://b{1...5001}:9000";
        Should.Throw<ConfigException>(() => Sites.Build([site], "/", "/", 0))
            .Message.ShouldBe($"unable to parse input arg {site}: range expands to 10001 endpoints, more than the limit of 10000");
    }

    [Test]
    public void Build_OnePoolOverTheLimit_ThrowsNamingThePool()
    {
        Should.Throw<ConfigException>(() => Sites.Build(["http://a{1...99999999999}:9000"], "/", "/", 0))
            .Message.ShouldBe("unable to parse input arg http://a{1...99999999999}:9000: range expands to 99999999999 endpoints, more than the limit of 10000");
    }

    [Test]
    public void Build_HealthPortOutOfRange_Throws()
    {
        Should.Throw<ConfigException>(() => Sites.Build(["http://a:1"], "/", "/", 70000))
            .Message.ShouldBe("invalid health check port \"70000\": must be in [0, 65535]");
    }

    [Test]
    public void Build_SameArgumentsTwice_GiveEqualSites()
    {
        // SIGHUP (J1) re-runs Build with the same arguments.
        string[] args = ["http://h{1...3}:9000", "https://x:1/p"];
        var first = Sites.Build(args, "/ready", "/read", 0);
        var second = Sites.Build(args, "/ready", "/read", 0);
        second.SelectMany(s => s.Backends).Select(b => b.HealthUrl.OriginalString)
            .ShouldBe(first.SelectMany(s => s.Backends).Select(b => b.HealthUrl.OriginalString));
    }
}
