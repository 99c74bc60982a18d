using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Sidekick.Core.Health;

namespace Sidekick.Cli.Output;

/// <summary>The --log state lines (I2), text and --json, in the original's formats.</summary>
internal static class LogFormatter
{
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Format(BackendTransition t, DateTime utc, bool json) => json ? Json(t, utc) : Text(t, utc);

    /// <summary><c>LOG  : HH:MM:SS.mmm  endpoint is down: error</c> / <c>… is up Downtime duration: 1.5s</c>.</summary>
    public static string Text(BackendTransition t, DateTime utc)
    {
        var head = "LOG  : " + ConsoleText.Clock(utc) + "  " + t.Backend.Endpoint;
        return t.Up
            ? head + " is up Downtime duration: " + ConsoleText.Micros(t.Downtime)
            : head + " is down: " + t.Error;
    }

    /// <summary><c>{"Type":"LOG","Endpoint":…,"Error":…,"Status":"down","Timestamp":…}</c>; up: Downtime in ns, omitted when 0.</summary>
    public static string Json(BackendTransition t, DateTime utc)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, JsonOptions))
        {
            w.WriteStartObject();
            w.WriteString("Type", "LOG");
            w.WriteString("Endpoint", t.Backend.Endpoint);
            if (!t.Up)
            {
                w.WriteString("Error", t.Error ?? "");
            }

            w.WriteString("Status", t.Up ? "up" : "down");
            if (t.Up && t.Downtime > TimeSpan.Zero)
            {
                w.WriteNumber("Downtime", t.Downtime.Ticks * 100);
            }

            w.WriteString("Timestamp", ConsoleText.Rfc3339Nano(utc));
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
