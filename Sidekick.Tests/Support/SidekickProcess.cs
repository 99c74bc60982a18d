using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Sidekick.Tests.Support;

/// <summary>
/// The built `sidekick` executable started as a user would (`dotnet sidekick.dll ARGS`), with its output
/// captured. Always ended by pid on dispose.
/// </summary>
internal sealed partial class SidekickProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource<int> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SidekickProcess(IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(DllPath);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (_stdout)
            {
                _stdout.AppendLine(e.Data);
            }

            var m = ListeningLine().Match(e.Data);
            if (m.Success)
            {
                _listening.TrySetResult(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_stderr)
                {
                    _stderr.AppendLine(e.Data);
                }
            }
        };
        _process.Exited += (_, _) => _listening.TrySetException(new InvalidOperationException("sidekick exited: " + Stderr));
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "sidekick.dll");

    public int Pid => _process.Id;

    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static SidekickProcess Start(params string[] args) => new(args);

    /// <summary>Waits (bounded) for "listening on '...:PORT'" and returns the port.</summary>
    public Task<int> WaitListeningAsync(int timeoutMs = 30_000) => _listening.Task.WaitAsync(TimeSpan.FromMilliseconds(timeoutMs));

    /// <summary>Resident set size in bytes, from /proc.</summary>
    public long RssBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    /// <summary>Sends a signal by pid (kill(2)).</summary>
    public void Signal(int signal) => _ = Kill(Pid, signal);

    public async Task<int> WaitExitAsync(int timeoutMs = 30_000)
    {
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromMilliseconds(timeoutMs));
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);

    [GeneratedRegex(@"listening on '.*:(\d+)'")]
    private static partial Regex ListeningLine();
}
