using System.Diagnostics;
using System.Text.Json.Nodes;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.EndToEnd;

/// <summary>The load command loads the machine: it runs alone, after the tests that run in parallel.</summary>
[CollectionDefinition(nameof(LoadCommandCollection), DisableParallelization = true)]
public sealed class LoadCommandCollection;

/// <summary>
/// The load test (scripts/load.sh runs bench/load/load.mjs after building the local host) at a tiny
/// size, so it cannot rot: it starts the local host on a slice of MovieLens, waits for its replay,
/// drives it with autocannon and prints its table with every figure.
/// </summary>
[Collection(nameof(LoadCommandCollection))]
public sealed class LoadCommandTests
{
    private static readonly string[] Figures =
    [
        "rank, 1 connection: throughput", "rank, 1 connection: p50", "rank, 1 connection: p99", "rank, 1 connection: max",
        "rank, 1 connection: errors + non-2xx", "rank, 1 connection: Substitute (fallback) answers",
        "rank, 2 connections: throughput", "rank, 2 connections: p99",
        "sustained 40 req/s for 2 s: throughput", "sustained 40 req/s for 2 s: errors + timeouts + non-2xx",
        "sustained 40 req/s for 2 s: Substitute (fallback) answers", "sustained 40 req/s for 2 s: p50",
        "sustained 40 req/s for 2 s: p99 of the requests sent", "sustained 40 req/s for 2 s: p99 corrected for coordinated omission",
        "sustained 40 req/s for 2 s: max",
        "feature-log lag at the end of the load", "feature-log lag back to 0 after the load",
        "sequential rank requests answered by the model",
        "host VmRSS after the replay, before the load", "host VmHWM before the load (peak of the replay and training)",
        "host VmRSS peak during the load and recovery (sampled each second)", "host VmRSS after recovery", "host VmHWM at the end (peak since start)",
    ];

    [Fact]
    public async Task The_load_command_runs_at_a_tiny_size_and_prints_every_figure_with_target_and_baseline()
    {
        var hostDll = Repo.Path("local-host", "bin", Command.Configuration, "net10.0", "Serverless.LocalHost.dll");
        Assert.True(File.Exists(hostDll), $"the local host is not built at {hostDll}");
        var output = Path.Combine(Path.GetTempPath(), "serverless-load-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (exitCode, printed, errors) = await Command.RunAsync("node", new[]
            {
                "bench/load/load.mjs", "--host", hostDll, "--out", output, "--max-ratings", "3000",
                "--stages", "1,2", "--stage-seconds", "1", "--baseline-seconds", "1", "--rate", "40", "--duration", "2",
                "--connections", "4", "--members", "50", "--sequential", "5", "--recovery-timeout", "60", "--ready-timeout", "300",
            }, TimeSpan.FromMinutes(5));
            Assert.True(exitCode == 0, $"exit code {exitCode}\n{printed}\n{errors}");
            Assert.Contains("| figure", printed, StringComparison.Ordinal);
            Assert.Contains("ratio to baseline", printed, StringComparison.Ordinal);
            Assert.Contains("Baselines (GET /api/health", printed, StringComparison.Ordinal);

            var report = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "load-latest.json")))!;
            var rows = report["figures"]!.AsArray().Select(r => r!).ToDictionary(r => (string)r["figure"]!, StringComparer.Ordinal);
            foreach (var figure in Figures)
            {
                Assert.True(rows.TryGetValue(figure, out var row), $"figure '{figure}' missing from the report:\n{printed}");
                Assert.True(row["measured"] is JsonValue, $"figure '{figure}' has no measured value:\n{printed}");
                Assert.Contains($"| {figure}", printed, StringComparison.Ordinal);
                Assert.Contains((string)row["verdict"]!, new[] { "pass", "MISS", "info" });
            }

            // Each rank figure of the ramp and the sustained stage is measured against the health baseline of the same run.
            Assert.All(Figures.Where(f => f.EndsWith("throughput", StringComparison.Ordinal) || f.Contains("p99", StringComparison.Ordinal)),
                f => Assert.True(rows[f]["ratioToBaseline"] is JsonValue, $"figure '{f}' has no ratio to its baseline"));
            // Targets are judged, not just printed.
            Assert.Equal("<= 50 ms", (string)rows["sustained 40 req/s for 2 s: p99 corrected for coordinated omission"]["target"]!);
            Assert.Contains((string)rows["sustained 40 req/s for 2 s: p99 corrected for coordinated omission"]["verdict"]!, new[] { "pass", "MISS" });
            Assert.Contains((string)rows["sequential rank requests answered by the model"]["verdict"]!, new[] { "pass", "MISS" });
            // The ramp really sent rank requests, and the command stopped the host it started.
            Assert.True((int)report["ramp"]![0]!["rank"]!["responses"]! > 0);
            Assert.False(IsRunning((int)report["hostPid"]!), "the local host is still running");
            Assert.True(File.Exists(Path.Combine(output, "load-latest.md")));
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
