using System.Runtime.InteropServices;
using Sidekick.Core.Config;

namespace Sidekick.Cli;

/// <summary>PLACEHOLDER until the engine lands: announces the address and waits for SIGTERM/SIGINT.</summary>
internal static class ProxyHost
{
    public static int Run(SidekickOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var stop = new ManualResetEventSlim();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Set();
        }

        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        Console.Out.WriteLine($"sidekick: listening on '{options.Address}'");
        Console.Out.Flush();
        stop.Wait();
        return 0;
    }
}
