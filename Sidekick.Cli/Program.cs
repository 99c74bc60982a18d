namespace Sidekick.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
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
