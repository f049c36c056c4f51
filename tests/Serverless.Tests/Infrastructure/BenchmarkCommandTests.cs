using System.Text.RegularExpressions;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Infrastructure;

/// <summary>
/// The benchmark commands (bench/, `dotnet run -c Release --project bench -- archive|rank`) run here at a
/// tiny size, so they cannot rot: each must finish and print every figure row with a finite
/// measurement, its same-run baseline and a ratio. The figures themselves are not judged here.
/// </summary>
public sealed partial class BenchmarkCommandTests
{
    [Theory]
    [InlineData("rank", "--requests 60 --rounds 1 --max-ratings 4000 --landing-requests 100",
        new[] { "rank p50 (warm history cache, logging off)", "rank throughput, 2 workers, logging off", "feature logging at 100% (median of 1 rounds)", "feature-log-ingest trigger landing files" })]
    [InlineData("precompute", "--max-ratings 3000 --lookups 50 --partitions 4",
        new[] { "similar titles, all", "top-20 for all", "lookup p99 (in-memory version)", "hit rate@10 of similar titles", "NDCG@10 of similar titles", "hit rate@10 of the precomputed top-N", "NDCG@10 of the precomputed top-N" })]
    [InlineData("sentinel", "--shadow-rows 600 --max-ratings 3000",
        new[] { "Sentinel, every check, 600 shadow rows", "pipeline train -> validate -> gate on" })]
    [InlineData("snapshot", "--max-ratings 3000 --new-percent 10",
        new[] { "snapshot following the previous one (previous + journal since)", "snapshot cut from the journal alone", "training pipeline from history to its approval gate" })]
    [InlineData("pointintime", "--max-ratings 3000",
        new[] { "time-travel training set (TrainingSetBuilder), s", "values differing from DuckDB" })]
    [InlineData("archive", "--rounds 1 --live-requests 20 --max-ratings 3000",
        new[] { "facts-ingest trigger path, facts/s (mean of rounds)", "live p99, idle (HTTP)", "live p99 under batch export (HTTP)" })]
    public async Task A_benchmark_command_runs_at_a_tiny_size_and_prints_each_figure_with_its_baseline(string benchmark, string arguments, string[] figures)
    {
        var (exitCode, output) = await RunAsync(benchmark + " " + arguments);

        Assert.True(exitCode == 0, output);
        Assert.Contains("machine: ", output, StringComparison.Ordinal);
        foreach (var figure in figures)
        {
            var row = output.Split('\n').FirstOrDefault(l => l.Contains(figure, StringComparison.Ordinal));
            Assert.True(row is not null, $"no row '{figure}' in:\n{output}");
            var match = RowPattern().Match(row!);
            Assert.True(match.Success, $"row without measured | baseline | ratio: {row}");
        }

        // DuckDB is the oracle of the point-in-time join: no value may differ.
        if (benchmark == "pointintime")
        {
            Assert.Contains("| 0.00 values |", output, StringComparison.Ordinal);
        }

        // Allocation counters are deltas of a monotonic process-wide count: never negative (a round once printed "allocated -1148 MB").
        if (benchmark == "rank")
        {
            Assert.NotEmpty(AllocatedPattern().Matches(output));
        }

        Assert.All(AllocatedPattern().Matches(output), m => Assert.True(long.Parse(m.Groups["mb"].Value, System.Globalization.CultureInfo.InvariantCulture) >= 0, m.Value));
    }

    [GeneratedRegex(@"allocated (?<mb>-?[0-9]+) MB")]
    private static partial Regex AllocatedPattern();

    /// <summary>| figure | 1.23 unit | 4.56 unit (baseline) | 0.27 | target |</summary>
    [GeneratedRegex(@"^\| [^|]+ \| [0-9]+\.[0-9]+ [^|]+ \| [0-9]+\.[0-9]+ [^|]+ \| [0-9]+\.[0-9]+ \| [^|]+ \|")]
    private static partial Regex RowPattern();

    private static async Task<(int ExitCode, string Output)> RunAsync(string arguments)
    {
        var dll = Repo.Path("bench", "bin", Command.Configuration, "net10.0", "Serverless.Benchmarks.dll");
        Assert.True(File.Exists(dll), $"{dll} is not built (dotnet test Serverless.sln builds it)");
        var (exitCode, output, errors) = await Command.RunAsync("dotnet", [dll, .. arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)], TimeSpan.FromMinutes(5));
        return (exitCode, output + errors);
    }
}
