using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Serverless.Tests.Fixtures;

/// <summary>
/// The main job as a person starts it: scripts/run.sh's command line and environment (read from the
/// script, so the two cannot drift apart) run as its own process from the local host's build output,
/// on a free port. Its output is kept line by line; <see cref="StopAsync"/> kills its process tree
/// (the host and the Azurite it started, and any process ever seen below the host, so the orphans of a
/// host that crashed too) and reports any that survived. The tree is also killed when the test process
/// exits normally (not when it is killed outright).
/// </summary>
public sealed partial class MainJobProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly List<string> lines = [];
    private readonly object gate = new();
    private readonly EventHandler onExit;
    private TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<ProcessTree.Entry> seenTree = [];
    private bool stopped;

    private MainJobProcess(Process process, int port, string commandLine)
    {
        this.process = process;
        Port = port;
        CommandLine = commandLine;
        onExit = (_, _) => Kill();
        AppDomain.CurrentDomain.ProcessExit += onExit;
    }

    public int Port { get; }

    /// <summary>The command that was run, for messages.</summary>
    public string CommandLine { get; }

    /// <summary>Whether the process has ended (on its own or stopped).</summary>
    public bool HasExited => process.HasExited;

    /// <summary>
    /// Starts scripts/run.sh's command (the local host with its arguments, the development identity it
    /// exports) on a free port; <paramref name="extraArguments"/> come last, as `scripts/run.sh ARGS` passes them.
    /// </summary>
    public static MainJobProcess Start(params string[] extraArguments)
    {
        var (arguments, environment) = ReadRunScript();
        var hostDll = Repo.Path("local-host", "bin", Command.Configuration, "net10.0", "Serverless.LocalHost.dll");
        if (!File.Exists(hostDll))
        {
            throw new InvalidOperationException($"the local host is not built at {hostDll}: build the solution first");
        }

        var port = Serverless.LocalHost.LocalFunctionHost.FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Repo.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(hostDll);
        foreach (var argument in arguments.Select(a => a == PortPlaceholder ? port.ToString(CultureInfo.InvariantCulture) : a).Concat(extraArguments))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the local host");
        var job = new MainJobProcess(process, port, $"{string.Join(' ', environment.Select(e => $"{e.Key}='{e.Value}'"))} dotnet {string.Join(' ', start.ArgumentList)}");
        process.OutputDataReceived += (_, e) => job.Add(e.Data);
        process.ErrorDataReceived += (_, e) => job.Add(e.Data);
        process.Exited += (_, _) => job.Signal();
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return job;
    }

    private const string PortPlaceholder = "\"${PORT:-7071}\"";

    /// <summary>The local host's arguments and the LocalHost__* environment scripts/run.sh gives it (the defaults it exports).</summary>
    internal static (IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string> Environment) ReadRunScript()
    {
        var script = File.ReadAllText(Repo.Path("scripts", "run.sh"));
        var launch = RunLine().Match(script);
        if (!launch.Success)
        {
            throw new InvalidOperationException("scripts/run.sh no longer ends in `dotnet local-host/bin/Release/net10.0/Serverless.LocalHost.dll ... \"$@\"`: update MainJobProcess.ReadRunScript to start the main job as the script does");
        }

        var arguments = launch.Groups["args"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (!arguments.Contains(PortPlaceholder))
        {
            throw new InvalidOperationException($"scripts/run.sh no longer passes --port {PortPlaceholder}: update MainJobProcess.ReadRunScript");
        }

        var environment = ExportLine().Matches(script).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["value"].Value, StringComparer.Ordinal);
        return (arguments, environment);
    }

    [GeneratedRegex(@"^dotnet local-host/bin/Release/net10\.0/Serverless\.LocalHost\.dll (?<args>.+) ""\$@""$", RegexOptions.Multiline)]
    private static partial Regex RunLine();

    [GeneratedRegex(@"^export (?<name>LocalHost__\w+)=""\$\{\k<name>-(?<value>[^}]*)\}""$", RegexOptions.Multiline)]
    private static partial Regex ExportLine();

    /// <summary>Every line printed so far (standard output and error, in arrival order).</summary>
    public IReadOnlyList<string> Lines { get { lock (gate) { return lines.ToList(); } } }

    /// <summary>The last <paramref name="count"/> lines, for failure messages.</summary>
    public string Tail(int count = 50)
    {
        lock (gate)
        {
            return string.Join('\n', lines.Skip(Math.Max(0, lines.Count - count)));
        }
    }

    /// <summary>
    /// Waits for the first line matching any of <paramref name="patterns"/> (from the start of the output);
    /// null when the process ended or <paramref name="timeout"/> passed first (say which with <see cref="Tail"/> and <see cref="HasExited"/>).
    /// </summary>
    public async Task<Match?> WaitForAsync(TimeSpan timeout, params Regex[] patterns)
    {
        var deadline = DateTime.UtcNow + timeout;
        var seen = 0;
        var drained = false;
        while (true)
        {
            Task next;
            List<string> fresh;
            lock (gate)
            {
                fresh = lines.Skip(seen).ToList();
                seen = lines.Count;
                next = changed.Task;
            }

            foreach (var line in fresh)
            {
                foreach (var pattern in patterns)
                {
                    if (pattern.Match(line) is { Success: true } match)
                    {
                        return match;
                    }
                }
            }

            RememberTree();
            var left = deadline - DateTime.UtcNow;
            if (process.HasExited && fresh.Count == 0 && !drained)
            {
                // Redirected output can arrive after the exit: wait for the streams to drain, then look once more.
                await process.WaitForExitAsync();
                drained = true;
                continue;
            }

            if (process.HasExited && fresh.Count == 0 || left <= TimeSpan.Zero)
            {
                return null;
            }

            await Task.WhenAny(next, Task.Delay(left < TimeSpan.FromSeconds(5) ? left : TimeSpan.FromSeconds(5)));
        }
    }

    /// <summary>
    /// Kills the process tree (the host, the Azurite it started, anything else below it) and waits for the
    /// host to end; returns the processes of the tree still running afterwards (none, unless something escaped).
    /// </summary>
    public async Task<IReadOnlyList<string>> StopAsync()
    {
        RememberTree();
        List<ProcessTree.Entry> tree;
        lock (gate) { tree = [.. seenTree]; }
        Kill();
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            return [$"{process.Id} (the host) did not end within 30 s of being killed"];
        }

        // Killed processes are reaped by their parent (or init) a moment after they die.
        var survivors = tree.Where(p => p.IsRunning()).ToList();
        for (var i = 0; i < 50 && survivors.Count > 0; i++)
        {
            await Task.Delay(100);
            survivors = survivors.Where(p => p.IsRunning()).ToList();
        }

        return survivors.Select(p => p.ToString()).ToList();
    }

    private void Kill()
    {
        lock (gate)
        {
            if (stopped)
            {
                return;
            }

            stopped = true;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It ended meanwhile.
        }

        // A host that crashed leaves its children (Azurite) to init, out of the tree the kill above walks:
        // kill every process ever seen below it that still runs (matched by id and start time).
        List<ProcessTree.Entry> seen;
        lock (gate) { seen = [.. seenTree]; }
        foreach (var entry in seen.Where(e => e.Id != process.Id && e.IsRunning()))
        {
            try
            {
                using var orphan = Process.GetProcessById(entry.Id);
                orphan.Kill(entireProcessTree: true);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // It ended meanwhile.
            }
        }
    }

    /// <summary>Adds the host's process tree as it is now to the processes seen below it (while the host runs).</summary>
    private void RememberTree()
    {
        if (process.HasExited)
        {
            return;
        }

        var now = ProcessTree.Below(process.Id);
        lock (gate) { seenTree.UnionWith(now); }
    }

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (gate)
        {
            lines.Add(line);
        }

        Signal();
    }

    private void Signal()
    {
        TaskCompletionSource done;
        lock (gate)
        {
            done = changed;
            changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        done.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            await StopAsync();
        }
        else
        {
            Kill();   // the host crashed: its orphans may still run
        }

        AppDomain.CurrentDomain.ProcessExit -= onExit;
        process.Dispose();
    }
}

/// <summary>Processes on Linux, read from /proc: a process and everything started below it.</summary>
internal static class ProcessTree
{
    /// <summary>One process as it was seen: its id and its start time (so a reused id is not mistaken for it).</summary>
    internal sealed record Entry(int Id, long StartTime, string Name)
    {
        public bool IsRunning() => Read(Id) is { } now && now.Entry.StartTime == StartTime && now.State != 'Z';

        public override string ToString() => $"{Id} ({Name})";
    }

    /// <summary><paramref name="root"/> and its descendants, now.</summary>
    public static IReadOnlyList<Entry> Below(int root)
    {
        var all = Directory.EnumerateDirectories("/proc").Select(d => int.TryParse(Path.GetFileName(d), out var id) ? Read(id) : null)
            .Where(p => p is not null).Select(p => p!.Value).ToList();
        var tree = new List<Entry>();
        var frontier = new Queue<int>([root]);
        while (frontier.Count > 0)
        {
            var id = frontier.Dequeue();
            if (all.FirstOrDefault(p => p.Entry.Id == id) is { Entry: { } entry })
            {
                tree.Add(entry);
            }

            foreach (var child in all.Where(p => p.Parent == id))
            {
                frontier.Enqueue(child.Entry.Id);
            }
        }

        return tree;
    }

    private static (Entry Entry, int Parent, char State)? Read(int id)
    {
        try
        {
            // /proc/<id>/stat: "id (name) state ppid ... starttime(22nd field)"; the name may hold spaces and parentheses.
            var stat = File.ReadAllText($"/proc/{id}/stat");
            var close = stat.LastIndexOf(')');
            var name = stat[(stat.IndexOf('(') + 1)..close];
            var fields = stat[(close + 2)..].Split(' ');
            return (new Entry(id, long.Parse(fields[19], CultureInfo.InvariantCulture), name), int.Parse(fields[1], CultureInfo.InvariantCulture), fields[0][0]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
