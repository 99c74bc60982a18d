namespace Sidekick.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        try
        {
            return CommandLine.Run(args, Console.Out, Console.Error, ProxyHost.Run);
        }
#pragma warning disable CA1031 // The last line of defence: one line on stderr, never a stack trace.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return CommandLine.Fail(Console.Error, CommandLine.Fatal, e.Message).ExitCode;
        }
    }
}
