using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Sidekick.Core;
using Sidekick.Core.Config;
using Sidekick.Core.Observability;
using Sidekick.Cli.Output;

namespace Sidekick.Cli;

/// <summary>Runs the proxy for the command line: banner, signals, exit codes. No proxy logic lives here.</summary>
internal static class ProxyHost
{
    public static int Run(SidekickOptions options)
    {
        ResourceLimits.RaiseOpenFiles();
        // I1: console mode streams logs and traces; an interactive terminal gets the live table instead.
        var consoleMode = ConsoleMode.IsConsole(options, Console.IsOutputRedirected);
        var stdout = new StreamWriter(Console.OpenStandardOutput(), new System.Text.UTF8Encoding(false), 64 * 1024) { AutoFlush = false };
        var writer = consoleMode ? new ConsoleWriter(stdout, options.Json, options.Debug) : null;
        ProxyServer server;
        try
        {
            server = ProxyServer.Start(consoleMode ? options : options with { Trace = TraceMode.None },
                writer is not null && options.Log && !options.Quiet ? writer.OnTransition : null);
        }
        catch (SocketException ex)
        {
            // H5: a listen failure is fatal.
            Console.Error.WriteLine($"sidekick: listen tcp {options.Address}: {Describe(ex)}");
            return 1;
        }

        using var stop = new ManualResetEventSlim();
        var signals = 0;
        void OnStop(PosixSignalContext context)
        {
            context.Cancel = true;
            if (Interlocked.Increment(ref signals) > 1)
            {
                // A second signal: exit at once.
                Console.Out.WriteLine($"sidekick: caught signal '{Name(context.Signal)}' again, exiting now");
                Environment.Exit(1);
            }

            Console.Out.WriteLine($"sidekick: caught signal '{Name(context.Signal)}', draining for up to {GoDurationText(options.Limits.ShutdownTimeout)}");
            stop.Set();
        }

        void OnHangup(PosixSignalContext context)
        {
            context.Cancel = true;
            // J1: re-expand the same SITE arguments (re-resolving names) and swap the backend table.
            Console.Out.WriteLine("sidekick: caught signal 'hangup', reloading sites");
            try
            {
                server.ReloadFromArguments();
            }
            catch (ConfigException ex)
            {
                Console.Error.WriteLine($"sidekick: reload failed, keeping the current sites: {ex.Message}");
            }
        }

        DiagnosticsServer? pprof = null;
        if (options.PprofAddress is { Length: > 0 } pprofAddress)
        {
            try
            {
                pprof = DiagnosticsServer.Start(ListenAddress.Parse(pprofAddress, flag: "--pprof"));
            }
            catch (Exception ex) when (ex is SocketException or ConfigException or FormatException)
            {
                // A ConfigException names --pprof and the address itself.
                Console.Error.WriteLine(ex is ConfigException ? $"sidekick: {ex.Message}" : $"sidekick: --pprof {pprofAddress}: {ex.Message}");
                server.StopAsync(TimeSpan.Zero).GetAwaiter().GetResult();
                return 1;
            }
        }

        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnStop);
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnStop);
        using var hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnHangup);

        foreach (var line in server.StartupMessages)
        {
            Console.Out.WriteLine(line);
        }

        if (server.Certificate?.Announcement is { } announcement)
        {
            Console.Out.Write(announcement); // H4: the auto-TLS fingerprint and public-key pin
        }

        Console.Out.WriteLine($"sidekick: listening on '{Format(server.LocalEndPoint)}'");
        Console.Out.Flush();
        var writing = writer?.RunAsync(server.Tracer.Enabled ? server.Traces : null);
        using var tableStop = new CancellationTokenSource();
        var table = consoleMode ? null : Task.Run(() => StatusTable.RunAsync(Spectre.Console.AnsiConsole.Console, server, tableStop.Token));
        stop.Wait();
        server.StopAsync(options.Limits.ShutdownTimeout).GetAwaiter().GetResult();
        tableStop.Cancel();
        writer?.Complete();
        Task.WhenAll(new[] { writing, table }.OfType<Task>()).Wait(TimeSpan.FromSeconds(5));
        pprof?.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(2));
        return 0;
    }

    private static string Name(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGTERM => "terminated",
        PosixSignal.SIGINT => "interrupt",
        _ => signal.ToString(),
    };

    private static string GoDurationText(TimeSpan t) => t.TotalSeconds >= 1 ? $"{t.TotalSeconds:0.###}s" : $"{t.TotalMilliseconds:0}ms";

    private static string Format(IPEndPoint ep) =>
        ep.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{ep.Address}]:{ep.Port}" : $"{ep.Address}:{ep.Port}";

    private static string Describe(SocketException ex) => ex.SocketErrorCode switch
    {
        SocketError.AddressAlreadyInUse => "bind: address already in use",
        SocketError.AccessDenied => "bind: permission denied",
        SocketError.AddressNotAvailable => "bind: cannot assign requested address",
        _ => ex.Message,
    };
}
