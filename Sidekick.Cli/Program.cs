namespace Sidekick.Cli;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("sidekick: not implemented yet");
        return args.Length == 0 ? 1 : 1;
    }
}
