using System.Text.RegularExpressions;
using Serverless.Tests.Fixtures;

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
        try
        {
            var (exitCode, output, errors) = await Command.RunAsync(RepositoryPaths.BicepExecutable(), arguments, HangGuard, RepositoryPaths.InfraBicep);
            return new BicepResult(exitCode, output, errors);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"bicep {string.Join(' ', arguments)} did not finish.");
        }
    }
}
