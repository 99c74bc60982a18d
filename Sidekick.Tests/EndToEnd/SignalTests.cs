using System.Net.Sockets;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.EndToEnd;

/// <summary>The real binary under SIGTERM and SIGHUP.</summary>
public class SignalTests
{
    private const int SigTerm = 15;
    private const int SigHup = 1;

    [Test]
    public async Task SigTerm_LetsASlowInFlightRequestFinish_ThenExitsZero()
    {
        await using var backend = new FakeBackend(async c =>
        {
            string? head;
            while ((head = await c.ReadRequestAsync()) is not null)
            {
                if (head.StartsWith("GET /slow", StringComparison.Ordinal))
                {
                    await Task.Delay(1500);
                }

                await c.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone");
            }
        });
        using var sidekick = SidekickProcess.Start("--address", "127.0.0.1:0", backend.Url);
        var port = await sidekick.WaitListeningAsync();
        using var client = new RawClient(port);

        await client.SendAsync("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
        await Task.Delay(300);
        sidekick.Signal(SigTerm);
        var response = await client.ReadResponseAsync();
        var exit = await sidekick.WaitExitAsync();

        response.Status.ShouldBe(200);
        response.BodyText.ShouldBe("done");
        response.Header("Connection").ShouldBe("close");
        exit.ShouldBe(0);
        sidekick.Stdout.ShouldContain("caught signal 'terminated'");
        Should.Throw<SocketException>(() => new RawClient(port).Dispose());
    }

    [Test]
    public async Task SigHup_ReloadsAndKeepsServing()
    {
        await using var backend = FakeBackend.Ok("still here");
        using var sidekick = SidekickProcess.Start("--address", "127.0.0.1:0", backend.Url);
        var port = await sidekick.WaitListeningAsync();

        sidekick.Signal(SigHup);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!sidekick.Stdout.Contains("reloading", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        using var client = new RawClient(port);
        await client.SendAsync("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        var response = await client.ReadResponseAsync();

        sidekick.Stdout.ShouldContain("caught signal 'hangup'");
        response.BodyText.ShouldBe("still here");
    }
}

/// <summary>J3: the open-files soft limit is raised to the hard limit at start.</summary>
public class ResourceLimitTests
{
    [Test]
    public async Task Start_RaisesTheOpenFilesSoftLimitToTheHardLimit()
    {
        await using var backend = FakeBackend.Ok();
        var psi = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        // Start with a low soft limit so the raise is visible.
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"ulimit -S -n 512; exec dotnet '{SidekickProcess.DllPath}' --address 127.0.0.1:0 {backend.Url}");
        using var process = System.Diagnostics.Process.Start(psi)!;
        try
        {
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            line.ShouldNotBeNull();
            line.ShouldStartWith("sidekick: listening on '");
            var limits = File.ReadAllLines($"/proc/{process.Id}/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var parts = limits.Split(' ', StringSplitOptions.RemoveEmptyEntries);

            parts[3].ShouldNotBe("512");
            parts[3].ShouldBe(parts[4]);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
    }
}
