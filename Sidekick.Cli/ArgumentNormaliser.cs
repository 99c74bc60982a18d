namespace Sidekick.Cli;

/// <summary>The command line after Go flag semantics were applied.</summary>
/// <param name="Tokens">Canonical tokens for CommandLineParser: <c>--name=value</c>, <c>--name</c> for true bools, <c>--</c>, then the sites.</param>
/// <param name="Sites">The SITE arguments in order.</param>
/// <param name="Given">Long names of the flags that appeared on the command line.</param>
/// <param name="Help">--help (or -h) was given and is true.</param>
/// <param name="Version">--version (or -v) was given and is true.</param>
internal sealed record NormalisedArguments(
    IReadOnlyList<string> Tokens, IReadOnlyList<string> Sites, IReadOnlySet<string> Given, bool Help, bool Version);

/// <summary>
/// Go <c>flag</c> package semantics (A1) in front of CommandLineParser: <c>-flag</c> and <c>--flag</c>, values as
/// <c>--flag value</c> or <c>--flag=value</c>, bools never take the next argument, <c>--</c> ends the flags, and
/// parsing stops at the first non-flag argument. Unlike the original, a flag after a SITE is an error rather than
/// a bogus SITE (gap d.16). Repeating a flag keeps the last value, except the repeatable --status-code.
/// </summary>
internal static class ArgumentNormaliser
{
    public static NormalisedArguments Normalise(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var values = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var bools = new Dictionary<string, bool>(StringComparer.Ordinal);
        var index = 0;
        var terminated = false;
        for (; index < args.Count; index++)
        {
            var arg = args[index];
            if (arg == "--")
            {
                terminated = true;
                index++;
                break;
            }

            if (!LooksLikeFlag(arg))
            {
                break;
            }

            var (name, value) = Split(arg);
            var flag = Flags.Find(name) ?? throw new UsageException($"flag provided but not defined: -{name}");
            var typed = value is null ? arg : arg[..arg.IndexOf('=', StringComparison.Ordinal)];
            if (flag.IsBool)
            {
                bools[flag.Name] = value is null || ParseBool(value, typed);
                if (flag.Name == Flags.Help && bools[flag.Name])
                {
                    // Go's flag package stops at -help: whatever follows cannot turn it into an error.
                    return new NormalisedArguments(["--"], [], new HashSet<string>(bools.Keys.Concat(values.Keys), StringComparer.Ordinal), Help: true, Version: false);
                }

                continue;
            }

            if (value is null)
            {
                // Go semantics: the next argument is the value, whatever it looks like.
                if (index + 1 >= args.Count)
                {
                    throw new UsageException($"flag needs an argument: {typed}");
                }

                value = args[++index];
            }

            if (!values.TryGetValue(flag.Name, out var list) || !flag.Repeatable)
            {
                values[flag.Name] = list = [];
            }

            list.Add(value);
        }

        var sites = args.Skip(index).ToList();
        if (!terminated)
        {
            for (var i = 1; i < sites.Count; i++)
            {
                if (LooksLikeFlag(sites[i]))
                {
                    var shown = sites[i].Split('=', 2)[0];
                    throw new UsageException($"flag {shown} given after site {sites[i - 1]}: flags must come before the sites");
                }
            }
        }

        var tokens = new List<string>();
        foreach (var flag in Flags.All.Where(f => f.Name is not (Flags.Help or Flags.Version)))
        {
            if (bools.TryGetValue(flag.Name, out var on) && on)
            {
                tokens.Add("--" + flag.Name);
            }
            else if (values.TryGetValue(flag.Name, out var list))
            {
                foreach (var value in list)
                {
                    tokens.AddRange(Canonical(flag.Name, value));
                }
            }
        }

        tokens.Add("--");
        tokens.AddRange(sites);
        var given = new HashSet<string>(bools.Keys.Concat(values.Keys), StringComparer.Ordinal);
        return new NormalisedArguments(
            tokens, sites, given, bools.GetValueOrDefault(Flags.Help), bools.GetValueOrDefault(Flags.Version));
    }

    /// <summary>
    /// <c>--name=value</c>, except where CommandLineParser's tokenizer refuses that form (an empty value, a value
    /// starting with a space, or one holding a line break: BadFormatTokenError); those go as a separate token,
    /// which is safe because such values cannot start with '-'.
    /// </summary>
    private static string[] Canonical(string name, string value) =>
        value.Length == 0 || value[0] == ' ' || value.Contains('\n', StringComparison.Ordinal) || value.Contains('\r', StringComparison.Ordinal)
            ? (value.StartsWith('-') ? throw new UsageException($"invalid value for flag --{name}: line breaks are not supported") : ["--" + name, value])
            : [$"--{name}={value}"];

    /// <summary>Go's strconv.ParseBool forms.</summary>
    public static bool ParseBool(string value, string flag) => value switch
    {
        "1" or "t" or "T" or "TRUE" or "true" or "True" => true,
        "0" or "f" or "F" or "FALSE" or "false" or "False" => false,
        _ => throw new UsageException($"invalid boolean value \"{value}\" for flag {flag}: must be true or false"),
    };

    // A lone "-" is a positional argument (Go: stdin convention), as is anything not starting with '-'.
    private static bool LooksLikeFlag(string arg) => arg.Length >= 2 && arg[0] == '-';

    private static (string Name, string? Value) Split(string arg)
    {
        var dashes = arg[1] == '-' ? 2 : 1;
        var body = arg[dashes..];
        if (body.Length == 0 || body[0] == '-' || body[0] == '=')
        {
            throw new UsageException($"bad flag syntax: {arg}");
        }

        var equals = body.IndexOf('=', StringComparison.Ordinal);
        return equals < 0 ? (body, null) : (body[..equals], body[(equals + 1)..]);
    }
}
