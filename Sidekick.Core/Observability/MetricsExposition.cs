using System.Globalization;
using System.Text;
using Sidekick.Core.Backends;

namespace Sidekick.Core.Observability;

/// <summary>
/// Writes the Prometheus text exposition format 0.0.4 for /.prometheus/metrics (I7), by hand. The original's
/// five per-endpoint series keep their names, HELP and the one label <c>endpoint</c>, now for the backends of
/// every site (d.8); the rest is new. Rendered on request, never on the request path of proxied traffic.
/// </summary>
public static class MetricsExposition
{
    /// <summary>The content type of the text format.</summary>
    public const string ContentType = "text/plain; version=0.0.4";

    /// <summary>Renders every series for <paramref name="server"/>.</summary>
    public static string Render(ProxyServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        RuntimeFigures.Hook();
        var backends = new List<Backend>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var site in server.Table.Sites)
        {
            foreach (var b in site.Backends)
            {
                if (seen.Add(b.Endpoint))
                {
                    backends.Add(b);
                }
            }
        }

        var w = new Writer(new StringBuilder(4096 + (backends.Count * 4096)));

        // The original's five (names, HELP of the first, label `endpoint`).
        w.PerBackend(backends, "sidekick_requests_total", "counter", "Total number of calls in current SideKick server instance", b => b.Requests);
        w.PerBackend(backends, "sidekick_errors_total", "counter", "Total number of failed calls (status >= 400 or transport failure) in current SideKick server instance", b => b.Errors);
        w.PerBackend(backends, "sidekick_rx_bytes_total", "counter", "Total number of bytes received from clients (request heads and bodies) in current SideKick server instance", b => b.RxBytes);
        w.PerBackend(backends, "sidekick_tx_bytes_total", "counter", "Total number of bytes sent to clients (response heads and bodies) in current SideKick server instance", b => b.TxBytes);
        w.PerBackend(backends, "sidekick_health_error_counts", "counter", "Total number of health errors (failed probes and transport failures seen by traffic) in current SideKick server instance", b => b.Metrics.HealthErrors);

        w.Header("sidekick_backend_up", "gauge", "Whether the backend takes traffic (1) or is down (0)");
        foreach (var b in backends)
        {
            w.Sample("sidekick_backend_up", b.Endpoint, "site", b.SiteNumber.ToString(CultureInfo.InvariantCulture), b.IsOnline ? 1 : 0);
        }

        w.PerBackend(backends, "sidekick_backend_in_flight_requests", "gauge", "Requests being forwarded to the backend now", b => b.InFlight);
        w.PerBackend(backends, "sidekick_health_probe_failures_total", "counter", "Active health probes that did not get a 200 response", b => b.Metrics.ProbeFailures);
        w.Histogram(backends, "sidekick_request_duration_seconds", "Proxied request duration per backend attempt, from forwarding start to the end of the response", b => b.Metrics.Duration);
        w.Histogram(backends, "sidekick_time_to_first_byte_seconds", "Time from forwarding start to the first response byte from the backend", b => b.Metrics.TimeToFirstByte);

        w.Header("sidekick_local_responses_total", "counter", "Error responses sidekick generated itself (no backend answered), by status code");
        var anyLocal = false;
        foreach (var (status, count) in server.Metrics.LocalResponseCounts())
        {
            anyLocal |= status == 502;
            w.Sample("sidekick_local_responses_total", "code", status.ToString(CultureInfo.InvariantCulture), count);
        }

        if (!anyLocal)
        {
            w.Sample("sidekick_local_responses_total", "code", "502", 0);
        }

        w.Single("sidekick_retries_total", "counter", "Requests re-sent to another backend after a failure that never reached a backend", server.Retries);
        w.Single("sidekick_trace_dropped_total", "counter", "Trace records dropped because the trace writer fell behind", server.Metrics.TraceDropped);
        w.Single("sidekick_client_connections", "gauge", "Client connections open now", server.ConnectionCount);

        // Process figures under the usual names.
        w.Single("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", ProcessFigures.CpuSeconds());
        w.Single("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", ProcessFigures.ResidentBytes());
        var fds = ProcessFigures.OpenFds();
        if (fds >= 0)
        {
            w.Single("process_open_fds", "gauge", "Number of open file descriptors.", fds);
        }

        var maxFds = ProcessFigures.MaxFds();
        if (maxFds >= 0)
        {
            w.Single("process_max_fds", "gauge", "Maximum number of open file descriptors.", maxFds);
        }

        w.Single("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", ServerMetrics.ProcessStart.ToUnixTimeMilliseconds() / 1000.0);

        // .NET runtime.
        w.Single("dotnet_gc_heap_bytes", "gauge", "Bytes in the managed heap after the last GC (GCMemoryInfo.HeapSizeBytes).", GC.GetGCMemoryInfo().HeapSizeBytes);
        w.Single("dotnet_gc_allocated_bytes_total", "counter", "Bytes allocated on the managed heap since process start (GC.GetTotalAllocatedBytes).", GC.GetTotalAllocatedBytes(false));
        w.Header("dotnet_gc_collections_total", "counter", "Garbage collections since process start, by generation.");
        for (var g = 0; g <= GC.MaxGeneration; g++)
        {
            var gen = g.ToString(CultureInfo.InvariantCulture);
            w.Sample("dotnet_gc_collections_total", "generation", gen, GC.CollectionCount(g));
        }

        w.Single("dotnet_gc_pause_seconds_total", "counter", "Total time the runtime paused for garbage collection.", GC.GetTotalPauseDuration().TotalSeconds);
        w.Single("dotnet_threadpool_threads", "gauge", "Thread pool threads.", ThreadPool.ThreadCount);
        w.Single("dotnet_threadpool_queue_length", "gauge", "Work items queued to the thread pool.", ThreadPool.PendingWorkItemCount);
        w.Single("dotnet_threadpool_completed_items_total", "counter", "Work items the thread pool completed.", ThreadPool.CompletedWorkItemCount);
        w.Single("dotnet_lock_contentions_total", "counter", "Monitor lock contentions.", Monitor.LockContentionCount);
        w.Single("dotnet_exceptions_total", "counter", "Exceptions thrown (first chance) since metrics were first read.", RuntimeFigures.Exceptions);
        return w.ToString();
    }

    private readonly struct Writer(StringBuilder sb)
    {
        public void Header(string name, string type, string help)
        {
            sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        }

        public void Single(string name, string type, string help, double value)
        {
            Header(name, type, help);
            sb.Append(name).Append(' ');
            Value(value);
            sb.Append('\n');
        }

        public void PerBackend(List<Backend> backends, string name, string type, string help, Func<Backend, double> value)
        {
            Header(name, type, help);
            foreach (var b in backends)
            {
                Sample(name, "endpoint", b.Endpoint, value(b));
            }
        }

        public void Sample(string name, string label, string labelValue, double value)
        {
            sb.Append(name).Append('{');
            Label(label, labelValue);
            sb.Append("} ");
            Value(value);
            sb.Append('\n');
        }

        public void Sample(string name, string endpoint, string label2, string value2, double value)
        {
            sb.Append(name).Append('{');
            Label("endpoint", endpoint);
            sb.Append(',');
            Label(label2, value2);
            sb.Append("} ");
            Value(value);
            sb.Append('\n');
        }

        public void Histogram(List<Backend> backends, string name, string help, Func<Backend, LatencyHistogram> pick)
        {
            Header(name, "histogram", help);
            foreach (var b in backends)
            {
                var h = pick(b);
                var sum = h.SumSeconds; // read before the buckets: the count can only run ahead of it
                var buckets = h.SnapshotBuckets();
                long cumulative = 0;
                for (var i = 0; i < buckets.Length; i++)
                {
                    cumulative += buckets[i];
                    var le = i < LatencyHistogram.BoundsSeconds.Length
                        ? LatencyHistogram.BoundsSeconds[i].ToString("R", CultureInfo.InvariantCulture)
                        : "+Inf";
                    sb.Append(name).Append("_bucket{");
                    Label("endpoint", b.Endpoint);
                    sb.Append(',');
                    Label("le", le);
                    sb.Append("} ").Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
                }

                Sample(name + "_sum", "endpoint", b.Endpoint, sum);
                Sample(name + "_count", "endpoint", b.Endpoint, cumulative);
            }
        }

        private void Label(string name, string value)
        {
            sb.Append(name).Append("=\"");
            foreach (var c in value)
            {
                _ = c switch
                {
                    '\\' => sb.Append("\\\\"),
                    '"' => sb.Append("\\\""),
                    '\n' => sb.Append("\\n"),
                    _ => sb.Append(c),
                };
            }

            sb.Append('"');
        }

        private void Value(double v)
        {
            if (double.IsPositiveInfinity(v))
            {
                sb.Append("+Inf");
            }
            else if (double.IsNegativeInfinity(v))
            {
                sb.Append("-Inf");
            }
            else if (double.IsNaN(v))
            {
                sb.Append("NaN");
            }
            else if (v == Math.Floor(v) && Math.Abs(v) < 1e15)
            {
                sb.Append(((long)v).ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(v.ToString("R", CultureInfo.InvariantCulture));
            }
        }

        public override string ToString() => sb.ToString();
    }
}
