namespace Sidekick.Http1;

/// <summary>
/// Walks a comma-separated field value (RFC 9110 5.6.1 "#rule"), yielding each element with OWS trimmed.
/// Empty elements are yielded too; the caller decides whether they are allowed.
/// </summary>
internal ref struct ListReader
{
    private ReadOnlySpan<byte> _rest;
    private bool _done;

    public ListReader(ReadOnlySpan<byte> value)
    {
        _rest = value;
        _done = false;
    }

    public bool TryNext(out ReadOnlySpan<byte> element)
    {
        if (_done)
        {
            element = default;
            return false;
        }

        int comma = _rest.IndexOf((byte)',');
        if (comma < 0)
        {
            element = HttpChars.TrimOws(_rest);
            _done = true;
        }
        else
        {
            element = HttpChars.TrimOws(_rest[..comma]);
            _rest = _rest[(comma + 1)..];
        }

        return true;
    }
}
