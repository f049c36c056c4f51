using System.Diagnostics;
using System.Reflection;

namespace Serverless.Tests.Fixtures;

/// <summary>Runs a command of the repository (a script, a benchmark, a publish) to its end, bounded in time.</summary>
public static class Command
{
    /// <summary>The build configuration of the tests (Release in CI), so commands use the binaries built with them.</summary>
    public static string Configuration { get; } =
        typeof(Command).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";

    /// <summary>
    /// Runs <paramref name="file"/> in <paramref name="workingDirectory"/> (default: the repository root); the
    /// process tree is killed, and <see cref="OperationCanceledException"/> thrown, when it outlives <paramref name="timeout"/>.
    /// </summary>
    public static async Task<(int ExitCode, string Output, string Errors)> RunAsync(string file, IEnumerable<string> arguments, TimeSpan timeout, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory ?? Repo.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var guard = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(guard.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output, await errors);
    }
}
