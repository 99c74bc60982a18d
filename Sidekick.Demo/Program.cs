using System.Net;
using Sidekick.Core;
using Sidekick.Core.Config;
using Sidekick.Demo;

// The newcomer's first command: three sample backends, sidekick in front of them as two sites
// (alpha + beta, then gamma), balancing, failover and failback, printed as it happens.
var once = args.Contains("--once");
var failures = 0;

await using var alpha = new SampleBackend("alpha");
await using var beta = new SampleBackend("beta");
await using var gamma = new SampleBackend("gamma");
foreach (var b in new[] { alpha, beta, gamma })
{
    b.Start();
}

var site1 = $"{alpha.Url},{beta.Url}";
var site2 = gamma.Url;
var options = new SidekickOptions
{
    Address = "127.0.0.1:0",
    ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
    HealthPath = "/health",
    HealthDuration = TimeSpan.FromSeconds(1),
    HealthTimeout = TimeSpan.FromSeconds(1),
    Sites =
    [
        Site(1, site1, alpha, beta),
        Site(2, site2, gamma),
    ],
};

var names = new[] { alpha, beta, gamma }.ToDictionary(b => b.Url, b => b.Name);
await using var server = ProxyServer.Start(options, t =>
    Console.WriteLine($"        [health] {names[t.Backend.Endpoint]} ({t.Backend.Endpoint}) is {(t.Up ? "up" : "down")}{(t.Error is null ? "" : ": " + t.Error)}"));
await server.FirstHealthRound;
var url = $"http://127.0.0.1:{server.LocalEndPoint.Port}/";
Console.WriteLine($"sidekick listening on {url}");
Console.WriteLine($"  site 1: alpha {alpha.Url}, beta {beta.Url}");
Console.WriteLine($"  site 2: gamma {gamma.Url}");

using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

await Step("1. Balancing: requests spread over site 1 (alpha, beta)", 16, expect: ["alpha", "beta"]);

await alpha.StopAsync();
Console.WriteLine("\n-- alpha stopped (crash: no warning to sidekick)");
await Step("2. One backend down: traffic moves to beta, no request fails", 6, expect: ["beta"]);

await beta.StopAsync();
Console.WriteLine("\n-- beta stopped too: site 1 has no backend left");
await Step("3. Failover: site 2 (gamma) takes all traffic", 6, expect: ["gamma"]);

alpha.Start();
beta.Start();
Console.WriteLine("\n-- alpha and beta restarted; waiting for their health checks");
var deadline = DateTime.UtcNow.AddSeconds(10);
while (!server.Table.Sites[0].Backends.All(b => b.IsOnline) && DateTime.UtcNow < deadline)
{
    await Task.Delay(100);
}

await Step("4. Failback: site 1 is healthy again and gets all traffic", 16, expect: ["alpha", "beta"]);

Console.WriteLine();
Console.WriteLine(failures == 0 ? "demo finished: every request succeeded and went where it should." : $"demo finished with {failures} unexpected result(s).");
if (!once)
{
    Console.WriteLine($"sidekick keeps running on {url} (try: curl {url} ; curl -i {url}v1/health). Ctrl-C to stop.");
    var stop = new TaskCompletionSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        stop.TrySetResult();
    };
    await stop.Task;
}

return failures == 0 ? 0 : 1;

async Task Step(string title, int requests, string[] expect)
{
    Console.WriteLine($"\n{title}");
    var seen = new HashSet<string>();
    for (var i = 1; i <= requests; i++)
    {
        string line;
        try
        {
            using var response = await http.GetAsync(url + "object-" + i);
            var body = (await response.Content.ReadAsStringAsync()).Trim();
            var ok = response.StatusCode == HttpStatusCode.OK && expect.Contains(body);
            if (ok)
            {
                seen.Add(body);
            }
            else
            {
                failures++;
            }

            line = $"  GET /object-{i,-3} -> {(int)response.StatusCode} {(response.StatusCode == HttpStatusCode.OK ? body : "")}{(ok ? "" : "   <-- unexpected")}";
        }
        catch (HttpRequestException ex)
        {
            failures++;
            line = $"  GET /object-{i,-3} -> failed: {ex.Message}   <-- unexpected";
        }

        Console.WriteLine(line);
        await Task.Delay(50);
    }

    if (expect.Length > 1 && seen.Count < expect.Length)
    {
        failures++;
        Console.WriteLine($"  <-- expected traffic on all of {string.Join(", ", expect)}");
    }
}

static SiteOptions Site(int number, string argument, params SampleBackend[] backends) =>
    new(number, argument, [.. backends.Select(b => new BackendOptions(b.Url, new Uri(b.Url), new Uri(b.Url + "/health")))]);
