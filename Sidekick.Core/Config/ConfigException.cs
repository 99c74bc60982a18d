namespace Sidekick.Core.Config;

/// <summary>
/// A configuration the proxy cannot run with (bad SITE, endpoint, health port, listen address).
/// The message is one line meant for the user, e.g. <c>missing host address bad, please use 'sidekick --help'</c> (A29).
/// </summary>
public sealed class ConfigException : Exception
{
    /// <summary>Creates an exception without a message.</summary>
    public ConfigException()
    {
    }

    /// <summary>Creates an exception with its one-line message.</summary>
    public ConfigException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with its one-line message and the underlying cause.</summary>
    public ConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
