using System.Globalization;
using Sidekick.Tests.Support;

namespace Sidekick.Tests.EndToEnd;

/// <summary>Bodies stream: 100 MiB each way through the real binary must not grow its RSS by 32 MiB.</summary>
[NonParallelizable]
public class StreamingMemoryTests
{
    private const long Size = 100L * 1024 * 1024;
    private const long Budget = 32L * 1024 * 1024;

    [Test]
    public async Task HundredMiB_UploadAndDownload_ArriveWhole_AndRssGrowsLessThan32MiB()
    {
        long uploaded = -1;
        var chunk = new byte[64 * 1024];
        Random.Shared.NextBytes(chunk);
        await using var backend = new FakeBackend(async c =>
        {
            string? head;
            while ((head = await c.ReadHeadAsync()) is not null)
            {
                if (head.StartsWith("PUT", StringComparison.Ordinal))
                {
                    var len = long.Parse(TestHttp.HeaderValue(head, "Content-Length")!, CultureInfo.InvariantCulture);
                    uploaded = await c.DiscardAsync(len);
                    await c.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                }
                else if (head.StartsWith("GET /small", StringComparison.Ordinal))
                {
                    await c.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmall");
                }
                else
                {
                    await c.WriteAsync($"HTTP/1.1 200 OK\r\nContent-Length: {Size}\r\n\r\n");
                    for (long sent = 0; sent < Size; sent += chunk.Length)
                    {
                        await c.WriteAsync(chunk);
                    }
                }
            }
        });
        using var sidekick = SidekickProcess.Start("--address", "127.0.0.1:0", backend.Url);
        var port = await sidekick.WaitListeningAsync();
        using var client = new RawClient(port);

        // Warm up, then take the baseline.
        await client.SendAsync("GET /small HTTP/1.1\r\nHost: a\r\n\r\n");
        await client.SendAsync("PUT /warm HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
        (await client.ReadResponseAsync()).BodyText.ShouldBe("small");
        (await client.ReadResponseAsync()).Status.ShouldBe(200);

        var baseline = sidekick.RssBytes();
        long peak = baseline;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, sidekick.RssBytes());
                await Task.Delay(20);
            }
        });

        using var cts = new CancellationTokenSource(120_000);
        await client.SendAsync($"PUT /big HTTP/1.1\r\nHost: a\r\nContent-Length: {Size}\r\n\r\n");
        for (long sent = 0; sent < Size; sent += chunk.Length)
        {
            await client.SendAsync(chunk);
        }

        (await client.ReadResponseAsync(timeoutMs: 60_000)).Status.ShouldBe(200);
        await client.SendAsync("GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
        var downloaded = await DrainResponseAsync(client, Size, cts.Token);
        await sampling.CancelAsync();
        await sampler;

        uploaded.ShouldBe(Size);
        downloaded.ShouldBe(Size);
        (peak - baseline).ShouldBeLessThan(Budget, $"baseline {baseline / 1048576} MiB, peak {peak / 1048576} MiB");
    }

    private static async Task<long> DrainResponseAsync(RawClient client, long expected, CancellationToken ct)
    {
        string? line;
        while ((line = await client.ReadLineAsync(ct)) is not null && line.Length > 0)
        {
        }

        long got = 0;
        while (got < expected)
        {
            var n = Math.Min(1 << 20, expected - got);
            got += (await client.ReadExactAsync(n, ct)).LongLength;
        }

        return got;
    }
}
