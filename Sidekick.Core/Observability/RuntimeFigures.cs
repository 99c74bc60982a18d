namespace Sidekick.Core.Observability;

/// <summary>.NET runtime figures shared by the metrics page and the diagnostics listener.</summary>
internal static class RuntimeFigures
{
    private static long _firstChanceExceptions;
    private static int _hooked;

    /// <summary>Exceptions thrown so far (first chance, caught or not) since <see cref="Hook"/>.</summary>
    public static long Exceptions => Volatile.Read(ref _firstChanceExceptions);

    /// <summary>Starts counting exceptions; idempotent.</summary>
    public static void Hook()
    {
        if (Interlocked.Exchange(ref _hooked, 1) == 0)
        {
            AppDomain.CurrentDomain.FirstChanceException += (_, _) => Interlocked.Increment(ref _firstChanceExceptions);
        }
    }
}
