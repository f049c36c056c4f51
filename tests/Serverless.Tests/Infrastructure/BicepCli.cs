using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Serverless.Tests.Infrastructure;

/// <summary>The outcome of one bicep CLI run.</summary>
internal sealed partial record BicepResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Diagnostic lines ("file(line,col) : Warning|Error code: message") from either stream.</summary>
    public IReadOnlyList<string> WarningsAndErrors =>
        (StandardError + "\n" + StandardOutput)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => DiagnosticLine().IsMatch(line))
            .ToList();

    [GeneratedRegex(@"\) : (Warning|Error) ", RegexOptions.CultureInvariant)]
    private static partial Regex DiagnosticLine();
}

/// <summary>Runs the pinned bicep CLI (offline: build, lint and build-params need no network).</summary>
internal static class BicepCli
{
    // A hang guard only, not an assertion on speed.
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(5);

    public static async Task<BicepResult> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(RepositoryPaths.BicepExecutable())
        {
            WorkingDirectory = RepositoryPaths.InfraBicep,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)
            ?? throw new InvalidOperationException("bicep did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var guard = new CancellationTokenSource(HangGuard);
        try
        {
            await process.WaitForExitAsync(guard.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', arguments)} did not finish.");
        }

        return new BicepResult(process.ExitCode, await stdout, await stderr);
    }
}
