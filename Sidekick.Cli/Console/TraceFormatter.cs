using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Sidekick.Core.Observability;

namespace Sidekick.Cli.Output;

/// <summary>Trace records as text (I3), --json (I4), --debug (I5) and --json --debug.</summary>
internal static class TraceFormatter
{
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Format(TraceRecord r, bool json, bool debug) => (json, debug) switch
    {
        (true, true) => DebugJson(r),
        (true, false) => Json(r),
        (false, true) => DebugText(r),
        _ => Text(r),
    };

    /// <summary>
    /// <c>  LOG: 10:00:00.000 [200 OK] http://b:9000 GET /x?y 10.0.0.1        1.234ms      ↑ 93 B ↓ 5 B</c>.
    /// </summary>
    public static string Text(TraceRecord r)
    {
        var sb = new StringBuilder(160);
        sb.Append("  LOG: ").Append(ConsoleText.Clock(r.Time)).Append(" [").Append(r.StatusCode);
        if (r.StatusMessage.Length > 0)
        {
            sb.Append(' ').Append(r.StatusMessage);
        }

        sb.Append("] ").Append(r.Endpoint).Append(' ').Append(r.Method).Append(' ').Append(PathAndQuery(r)).Append(' ');
        sb.Append(r.Client.PadRight(15)).Append(' ').Append(ConsoleText.Micros(r.Latency).PadRight(12));
        sb.Append(" ↑ ").Append(ConsoleText.Iec(r.Rx)).Append(" ↓ ").Append(ConsoleText.Iec(r.Tx));
        return sb.ToString();
    }

    /// <summary>The original's JSON fields in its order (I4); latency and timetofirstbyte in nanoseconds.</summary>
    public static string Json(TraceRecord r) => Write(w =>
    {
        w.WriteStartObject();
        w.WriteString("type", "TRACE");
        w.WriteString("host", r.Endpoint);
        w.WriteString("time", ConsoleText.Rfc3339Nano(r.Time));
        w.WriteString("client", r.Client);
        w.WriteStartObject("callStats");
        WriteStats(w, r);
        w.WriteEndObject();
        w.WriteNumber("statusCode", r.StatusCode);
        w.WriteString("statusMsg", r.StatusMessage);
        w.WriteString("method", r.Method);
        w.WriteString("path", r.Path);
        w.WriteString("query", r.Query);
        w.WriteEndObject();
    });

    /// <summary>--json --debug: request, response and stats objects with headers; bodies are a placeholder.</summary>
    public static string DebugJson(TraceRecord r) => Write(w =>
    {
        var done = ConsoleText.Rfc3339Nano(r.Time + r.Latency);
        w.WriteStartObject();
        w.WriteString("type", "DEBUG");
        w.WriteString("nodename", r.Endpoint);
        w.WriteStartObject("request");
        w.WriteString("time", ConsoleText.Rfc3339Nano(r.Time));
        w.WriteString("method", r.Method);
        w.WriteString("path", r.Path);
        w.WriteString("rawquery", r.Query);
        WriteHeaders(w, r.RequestHeaders);
        w.WriteString("body", "<BODY>");
        w.WriteString("client", r.Client);
        w.WriteEndObject();
        w.WriteStartObject("response");
        w.WriteString("time", done);
        WriteHeaders(w, r.ResponseHeaders);
        w.WriteString("body", "<BODY>");
        w.WriteNumber("statuscode", r.StatusCode);
        w.WriteEndObject();
        w.WriteStartObject("stats");
        WriteStats(w, r);
        w.WriteEndObject();
        w.WriteEndObject();
    });

    /// <summary>--debug text: a block of lines, each prefixed <c>DEBUG: endpoint </c> (I5).</summary>
    public static string DebugText(TraceRecord r)
    {
        var prefix = "DEBUG: " + r.Endpoint + " ";
        var sb = new StringBuilder(512);
        void Line(string text) => sb.Append(prefix).Append(text).Append('\n');
        Line("[REQUEST] " + ConsoleText.Clock(r.Time));
        Line(r.Method + " " + PathAndQuery(r));
        Line("Host: " + r.Host);
        foreach (var h in r.RequestHeaders)
        {
            if (!h.Key.Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                Line(h.Key + ": " + h.Value);
            }
        }

        Line("<BODY>");
        Line($"[RESPONSE] [{ConsoleText.Clock(r.Time + r.Latency)}] [ Duration {ConsoleText.Micros(r.Latency)}  ↑ {ConsoleText.Iec(r.Rx)}  ↓ {ConsoleText.Iec(r.Tx)} ]");
        Line($"{r.StatusCode} {r.StatusMessage}");
        foreach (var h in r.ResponseHeaders)
        {
            Line(h.Key + ": " + h.Value);
        }

        Line("<BODY>");
        return sb.ToString().TrimEnd('\n');
    }

    private static string PathAndQuery(TraceRecord r) => r.Query.Length == 0 ? r.Path : r.Path + "?" + r.Query;

    private static void WriteStats(Utf8JsonWriter w, TraceRecord r)
    {
        w.WriteNumber("rx", r.Rx);
        w.WriteNumber("tx", r.Tx);
        w.WriteNumber("latency", r.Latency.Ticks * 100);
        w.WriteNumber("timetofirstbyte", r.TimeToFirstByte.Ticks * 100);
        if (r.HealthError is null)
        {
            w.WriteNull("healthError");
        }
        else
        {
            w.WriteString("healthError", r.HealthError);
        }
    }

    private static void WriteHeaders(Utf8JsonWriter w, IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        w.WriteStartObject("headers");
        foreach (var group in headers.GroupBy(h => h.Key, StringComparer.OrdinalIgnoreCase))
        {
            w.WriteString(group.Key, string.Concat(group.Select(h => h.Value)));
        }

        w.WriteEndObject();
    }

    private static string Write(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, JsonOptions))
        {
            body(w);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
