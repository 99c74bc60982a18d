namespace Sidekick.Cli;

/// <summary>A command line that cannot be understood (bad flag syntax or value). Printed as one line, exit code 2.</summary>
internal sealed class UsageException : Exception
{
    public UsageException()
    {
    }

    public UsageException(string message)
        : base(message)
    {
    }

    public UsageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
