using System.Net.Sockets;
using Sidekick.Core.Observability;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.Proxy;

/// <summary>The listening sockets: a port already taken is an error at start (H5), never a shared port.</summary>
public class ListenerTests
{
    [Test]
    public async Task A_second_proxy_on_a_port_in_use_fails_to_start()
    {
        await using var backend = FakeBackend.Ok();
        await using var first = ProxyUnderTest.Start([backend.Url]);
        var taken = first.Server.LocalEndPoint;

        // The runtime's ReuseAddress option also set SO_REUSEPORT: the second bound the port and took about half
        // of the connections.
        var error = await BindFailureAsync(() => ProxyUnderTest.Start(o => o with { Address = taken.ToString(), ListenEndPoint = taken }, [backend.Url]));
        error.ShouldBe(SocketError.AddressAlreadyInUse);
    }

    [Test]
    public async Task Pprof_on_the_proxys_port_fails_to_start()
    {
        await using var backend = FakeBackend.Ok();
        await using var proxy = ProxyUnderTest.Start([backend.Url]);

        var error = await BindFailureAsync(() => DiagnosticsServer.Start(proxy.Server.LocalEndPoint));
        error.ShouldBe(SocketError.AddressAlreadyInUse);
    }

    private static async Task<SocketError> BindFailureAsync(Func<IAsyncDisposable> start)
    {
        try
        {
            var started = start();
            await started.DisposeAsync();
            return SocketError.Success;
        }
        catch (SocketException ex)
        {
            return ex.SocketErrorCode;
        }
    }
}
