using System.Diagnostics;

namespace Sidekick.Tests.EndToEnd;

public class DemoTests
{
    [Test]
    public async Task Demo_Once_ShowsBalancingFailoverAndFailback_AndExitsZero()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Sidekick.Demo.dll"));
        psi.ArgumentList.Add("--once");
        using var process = Process.Start(psi)!;
        try
        {
            var output = process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
            var text = await output;

            process.ExitCode.ShouldBe(0, text);
            text.ShouldContain("3. Failover");
            text.ShouldContain("-> 200 gamma");
            text.ShouldContain("every request succeeded");
            text.ShouldNotContain("unexpected");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }
}
