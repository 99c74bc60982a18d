using System.Net;
using System.Net.Sockets;
using Sidekick.Core.Config;

namespace Sidekick.Tests.Config;

public class ListenAddressTests
{
    [Test]
    public void Parse_EmptyHost_IsDualStackAny()
    {
        ListenAddress.Parse(":8080").ShouldBe(new IPEndPoint(IPAddress.IPv6Any, 8080));
    }

    [TestCase("127.0.0.1:9000", "127.0.0.1", 9000)]
    [TestCase("[::1]:8080", "::1", 8080)]
    [TestCase("0.0.0.0:80", "0.0.0.0", 80)]
    [TestCase("localhost:8080", "127.0.0.1", 8080)]
    [TestCase("LocalHost:1", "127.0.0.1", 1)]
    [TestCase("127.0.0.1:0", "127.0.0.1", 0)]
    [TestCase("[::]:65535", "::", 65535)]
    public void Parse_HostAndPort_GivesTheEndPoint(string address, string ip, int port)
    {
        ListenAddress.Parse(address).ShouldBe(new IPEndPoint(IPAddress.Parse(ip), port));
    }

    [TestCase("127.0.0.1", "missing port in address")]
    [TestCase("8080", "missing port in address")]
    [TestCase("[::1]", "missing port in address")]
    [TestCase("::1:8080", "too many colons in address")]
    [TestCase(":65536", "invalid port \"65536\": must be a number in [0, 65535]")]
    [TestCase(":-1", "invalid port \"-1\": must be a number in [0, 65535]")]
    [TestCase(":http", "invalid port \"http\": must be a number in [0, 65535]")]
    [TestCase("127.0.0.1:", "invalid port \"\": must be a number in [0, 65535]")]
    [TestCase("[::1:80", "missing ']' in address")]
    [TestCase("[1.2.3.4]:80", "invalid IPv6 address 1.2.3.4")]
    public void Parse_BadAddress_ThrowsNamingTheFlag(string address, string reason)
    {
        Should.Throw<ConfigException>(() => ListenAddress.Parse(address))
            .Message.ShouldBe($"invalid --address \"{address}\": {reason}");
    }

    [Test]
    public void Parse_BadPprofAddress_NamesPprof()
    {
        // It said "invalid --address" for a --pprof value.
        Should.Throw<ConfigException>(() => ListenAddress.Parse("bogus", flag: "--pprof"))
            .Message.ShouldBe("invalid --pprof \"bogus\": missing port in address");
    }

    [Test]
    public void Parse_HostName_PrefersTheFirstIPv4Address()
    {
        IPAddress[] Resolve(string host) => host == "proxy.example" ? [IPAddress.IPv6Loopback, IPAddress.Parse("10.1.2.3"), IPAddress.Parse("10.1.2.4")] : [];
        ListenAddress.Parse("proxy.example:81", Resolve).ShouldBe(new IPEndPoint(IPAddress.Parse("10.1.2.3"), 81));
    }

    [Test]
    public void Parse_HostNameWithOnlyIPv6_UsesIt()
    {
        ListenAddress.Parse("v6.example:81", _ => [IPAddress.IPv6Loopback]).ShouldBe(new IPEndPoint(IPAddress.IPv6Loopback, 81));
    }

    [Test]
    public void Parse_UnresolvableHost_ThrowsNamingTheFlag()
    {
        var error = Should.Throw<ConfigException>(() => ListenAddress.Parse("nowhere.invalid:80", _ => throw new SocketException((int)SocketError.HostNotFound)));
        error.Message.ShouldStartWith("invalid --address \"nowhere.invalid:80\": unable to resolve host nowhere.invalid");
    }

    [Test]
    public void Parse_HostWithoutAddresses_Throws()
    {
        Should.Throw<ConfigException>(() => ListenAddress.Parse("empty.example:80", _ => []))
            .Message.ShouldBe("invalid --address \"empty.example:80\": unable to resolve host empty.example: no addresses");
    }
}
