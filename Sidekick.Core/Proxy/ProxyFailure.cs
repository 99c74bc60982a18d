namespace Sidekick.Core.Proxy;

/// <summary>Who is to blame for a failed request (DESIGN, "Data flow").</summary>
internal enum Blame
{
    /// <summary>The client went away or misbehaved: the backend is not blamed.</summary>
    Client,
    /// <summary>The backend refused, reset, timed out or answered garbage.</summary>
    Backend,
}

/// <summary>How far a request got before it failed; decides retry and what the client sees.</summary>
internal enum Progress
{
    /// <summary>Nothing reached the backend (connect failure): always safe to retry elsewhere.</summary>
    NotSent,
    /// <summary>The request was (maybe partly) sent; no response byte arrived: 502.</summary>
    Sent,
    /// <summary>The response had started: the client connection is aborted.</summary>
    ResponseStarted,
}

/// <summary>A failure on one side of the proxy, raised by the I/O wrappers so the forwarder can classify it.</summary>
internal sealed class SideFailure(Blame blame, string message, Exception? inner = null) : Exception(message, inner)
{
    public Blame Blame { get; } = blame;
}

/// <summary>The outcome of forwarding one request to one backend.</summary>
/// <param name="Blame">Who failed, when <paramref name="Failed"/>.</param>
/// <param name="Progress">How far it got.</param>
/// <param name="Message">Error text (Go style, shown in the 502 body).</param>
/// <param name="Transport">A transport fault (connect failure, reset): feeds passive health (D5). A malformed
/// response or a plain EOF on a pooled connection is not one.</param>
internal readonly record struct ForwardOutcome(bool Failed, Blame Blame, Progress Progress, string? Message, bool KeepClientConnection, bool Transport = false)
{
    public static ForwardOutcome Done(bool keepAlive) => new(false, Blame.Client, Progress.ResponseStarted, null, keepAlive);

    public static ForwardOutcome Fail(Blame blame, Progress progress, string message, bool transport = false) =>
        new(true, blame, progress, message, false, transport);
}
