using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Sidekick.Core;
using Sidekick.Core.Config;

namespace Sidekick.Cli;

/// <summary>Runs the proxy for the command line: banner, signals, exit codes. No proxy logic lives here.</summary>
internal static class ProxyHost
{
    public static int Run(SidekickOptions options)
    {
        ResourceLimits.RaiseOpenFiles();
        ProxyServer server;
        try
        {
            server = ProxyServer.Start(options);
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
        stop.Wait();
        server.StopAsync(options.Limits.ShutdownTimeout).GetAwaiter().GetResult();
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
