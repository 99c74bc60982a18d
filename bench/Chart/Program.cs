using System.Globalization;
using ScottPlot;

// usage: Chart <results.tsv> <out.png>
// One group of bars per scenario: throughput of each proxy as a fraction of direct-to-backend (median over rounds).
var lines = File.ReadAllLines(args[0]).Skip(1).Select(l => l.Split('\t')).ToList();
string[] targets = ["sidekick", "nginx", "haproxy"];
// Only scenarios with a direct-to-backend figure to compare with (not the TLS one).
var scenarios = lines.Where(l => l[1] == "direct").Select(l => l[0]).Distinct().ToList();

static double Median(IEnumerable<double> xs)
{
    var a = xs.OrderBy(x => x).ToArray();
    return a.Length == 0 ? 0 : a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
}

double Throughput(string scenario, string target)
{
    // MB/s for downloads; for the upload, requests/s is MiB/s (wrk counts only response bytes).
    var column = scenario.StartsWith("get-1MiB", StringComparison.Ordinal) ? 4 : 3;
    return Median(lines.Where(l => l[0] == scenario && l[1] == target)
        .Select(l => double.Parse(l[column], CultureInfo.InvariantCulture)));
}

var plot = new Plot();
var palette = new ScottPlot.Palettes.Category10();
var bars = new List<Bar>();
for (var s = 0; s < scenarios.Count; s++)
{
    var direct = Throughput(scenarios[s], "direct");
    for (var t = 0; t < targets.Length; t++)
    {
        var value = direct > 0 ? Throughput(scenarios[s], targets[t]) / direct : 0;
        bars.Add(new Bar { Position = s * (targets.Length + 1) + t, Value = value, FillColor = palette.GetColor(t) });
    }
}

plot.Add.Bars(bars);
plot.Axes.Bottom.SetTicks(
    [.. scenarios.Select((_, s) => s * (targets.Length + 1) + 1.0)],
    [.. scenarios]);
for (var t = 0; t < targets.Length; t++)
{
    plot.Legend.ManualItems.Add(new LegendItem { LabelText = targets[t], FillColor = palette.GetColor(t) });
}

plot.Legend.IsVisible = true;
plot.Title("Throughput as a fraction of direct-to-backend (higher is better)");
plot.Axes.Left.Label.Text = "× direct";
plot.Axes.Margins(bottom: 0);
plot.SavePng(args[1], 1000, 500);
Console.WriteLine($"chart: {args[1]}");
