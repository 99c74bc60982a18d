using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Sidekick.Core.Transport;

namespace Sidekick.Core.Observability;

/// <summary>
/// --pprof ADDR (A21): a separate small listener, own socket, serving plain-text .NET runtime diagnostics under
/// /.pprof/. Go's profile names map to their nearest .NET figures (heap/allocs to GC, goroutine/threadcreate to
/// the thread pool, mutex/block to lock contention). One request per connection; never touches the data path.
/// </summary>
public sealed class DiagnosticsServer : IAsyncDisposable
{
    private static readonly string[] Sections = ["gc", "allocs", "threadpool", "locks", "exceptions", "process"];

    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private readonly object _rateLock = new();
    private long _lastAllocated = GC.GetTotalAllocatedBytes(false);
    private long _lastTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();

    private DiagnosticsServer(IPEndPoint endPoint)
    {
        RuntimeFigures.Hook();
        _listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            _listener.DualMode = true;
        }

        ListenSocket.ReuseAddressOnly(_listener);
        _listener.Bind(endPoint);
        _listener.Listen(16);
        LocalEndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _accept = AcceptLoopAsync();
    }

    /// <summary>The bound end point.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Binds <paramref name="endPoint"/> and starts serving.</summary>
    public static DiagnosticsServer Start(IPEndPoint endPoint) => new(endPoint);

    /// <summary>The text for a path under /.pprof/, or null when there is no such page.</summary>
    public string? Page(string path)
    {
        if (!path.StartsWith("/.pprof/", StringComparison.Ordinal))
        {
            return null;
        }

        var name = path["/.pprof/".Length..].TrimEnd('/');
        var section = name switch
        {
            "" => "",
            "heap" or "gc" => "gc",
            "allocs" => "allocs",
            "goroutine" or "threadcreate" or "threadpool" => "threadpool",
            "mutex" or "block" or "locks" => "locks",
            "exceptions" => "exceptions",
            "process" => "process",
            _ => null,
        };
        if (section is null)
        {
            return null;
        }

        var sb = new StringBuilder(1024);
        if (section.Length == 0)
        {
            sb.Append("sidekick .NET runtime diagnostics; pages: ");
            sb.AppendJoin(' ', Sections.Select(s => "/.pprof/" + s)).Append("\n\n");
            foreach (var s in Sections)
            {
                Write(sb, s);
            }
        }
        else
        {
            Write(sb, section);
        }

        return sb.ToString();
    }

    private void Write(StringBuilder sb, string section)
    {
        var inv = CultureInfo.InvariantCulture;
        sb.Append("# ").Append(section).Append('\n');
        switch (section)
        {
            case "gc":
                var info = GC.GetGCMemoryInfo();
                sb.Append(inv, $"heap_size_bytes {info.HeapSizeBytes}\n");
                sb.Append(inv, $"fragmented_bytes {info.FragmentedBytes}\n");
                sb.Append(inv, $"committed_bytes {info.TotalCommittedBytes}\n");
                sb.Append(inv, $"total_available_memory_bytes {info.TotalAvailableMemoryBytes}\n");
                sb.Append(inv, $"memory_load_bytes {info.MemoryLoadBytes}\n");
                sb.Append(inv, $"total_memory_bytes {GC.GetTotalMemory(false)}\n");
                for (var g = 0; g <= GC.MaxGeneration; g++)
                {
                    sb.Append(inv, $"collections_gen{g} {GC.CollectionCount(g)}\n");
                }

                sb.Append(inv, $"pause_time_percent {GC.GetGCMemoryInfo(GCKind.Any).PauseTimePercentage:0.###}\n");
                sb.Append(inv, $"pause_total_seconds {GC.GetTotalPauseDuration().TotalSeconds:0.######}\n");
                sb.Append(inv, $"server_gc {System.Runtime.GCSettings.IsServerGC}\n");
                sb.Append(inv, $"latency_mode {System.Runtime.GCSettings.LatencyMode}\n");
                break;
            case "allocs":
                var allocated = GC.GetTotalAllocatedBytes(false);
                var now = System.Diagnostics.Stopwatch.GetTimestamp();
                double rate;
                lock (_rateLock)
                {
                    var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(_lastTimestamp, now).TotalSeconds;
                    rate = seconds > 0 ? (allocated - _lastAllocated) / seconds : 0;
                    _lastAllocated = allocated;
                    _lastTimestamp = now;
                }

                var uptime = (DateTimeOffset.UtcNow - ServerMetrics.ProcessStart).TotalSeconds;
                sb.Append(inv, $"allocated_bytes_total {allocated}\n");
                sb.Append(inv, $"allocation_rate_bytes_per_second_since_last_read {rate:0}\n");
                sb.Append(inv, $"allocation_rate_bytes_per_second_since_start {(uptime > 0 ? allocated / uptime : 0):0}\n");
                sb.Append(inv, $"current_thread_allocated_bytes {GC.GetAllocatedBytesForCurrentThread()}\n");
                break;
            case "threadpool":
                ThreadPool.GetMinThreads(out var minWorkers, out var minIo);
                ThreadPool.GetMaxThreads(out var maxWorkers, out var maxIo);
                ThreadPool.GetAvailableThreads(out var freeWorkers, out var freeIo);
                sb.Append(inv, $"threads {ThreadPool.ThreadCount}\n");
                sb.Append(inv, $"queue_length {ThreadPool.PendingWorkItemCount}\n");
                sb.Append(inv, $"completed_items {ThreadPool.CompletedWorkItemCount}\n");
                sb.Append(inv, $"min_worker_threads {minWorkers}\nmin_io_threads {minIo}\n");
                sb.Append(inv, $"max_worker_threads {maxWorkers}\nmax_io_threads {maxIo}\n");
                sb.Append(inv, $"available_worker_threads {freeWorkers}\navailable_io_threads {freeIo}\n");
                break;
            case "locks":
                sb.Append(inv, $"lock_contention_count {Monitor.LockContentionCount}\n");
                break;
            case "exceptions":
                sb.Append(inv, $"exceptions_thrown {RuntimeFigures.Exceptions}\n");
                break;
            case "process":
                sb.Append(inv, $"cpu_seconds {ProcessFigures.CpuSeconds():0.###}\n");
                sb.Append(inv, $"resident_memory_bytes {ProcessFigures.ResidentBytes()}\n");
                sb.Append(inv, $"open_fds {ProcessFigures.OpenFds()}\n");
                sb.Append(inv, $"processor_count {Environment.ProcessorCount}\n");
                sb.Append(inv, $"start_time {ServerMetrics.ProcessStart:O}\n");
                sb.Append(inv, $"runtime {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}\n");
                break;
        }

        sb.Append('\n');
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var _ = socket;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        deadline.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            var buffer = new byte[8192];
            var used = 0;
            int end;
            while ((end = buffer.AsSpan(0, used).IndexOf("\r\n\r\n"u8)) < 0)
            {
                if (used == buffer.Length)
                {
                    return;
                }

                var n = await socket.ReceiveAsync(buffer.AsMemory(used), SocketFlags.None, deadline.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }

                used += n;
            }

            var line = Encoding.ASCII.GetString(buffer, 0, buffer.AsSpan(0, end).IndexOf("\r\n"u8) is var l and >= 0 ? l : end);
            var parts = line.Split(' ');
            string status, body;
            if (parts.Length != 3 || (parts[0] != "GET" && parts[0] != "HEAD"))
            {
                (status, body) = ("405 Method Not Allowed", "only GET\n");
            }
            else
            {
                var path = parts[1];
                var q = path.IndexOf('?', StringComparison.Ordinal);
                var page = Page(q < 0 ? path : path[..q]);
                (status, body) = page is null ? ("404 Not Found", "no such page; see /.pprof/\n") : ("200 OK", page);
            }

            var bytes = Encoding.UTF8.GetBytes(body);
            var head = $"HTTP/1.1 {status}\r\nServer: SideKick\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n";
            await socket.SendAsync(Encoding.ASCII.GetBytes(head), SocketFlags.None, deadline.Token).ConfigureAwait(false);
            if (parts[0] != "HEAD")
            {
                await socket.SendAsync(bytes, SocketFlags.None, deadline.Token).ConfigureAwait(false);
            }

            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _accept.ConfigureAwait(false);
        _stop.Dispose();
    }
}
