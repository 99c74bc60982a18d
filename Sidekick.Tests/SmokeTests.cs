namespace Sidekick.Tests;

public class SmokeTests
{
    [Test]
    public void Options_Defaults_MatchTheOriginal()
    {
        var o = new Sidekick.Core.Config.SidekickOptions();
        o.Address.ShouldBe(":8080");
        o.HealthDuration.ShouldBe(TimeSpan.FromSeconds(5));
    }
}
