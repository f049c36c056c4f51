using System.Globalization;
using Serverless.Benchmarks;
using Serverless.LocalHost.Azurite;

// dotnet run -c Release --project bench -- archive [--rounds 3] [--live-requests 2000] [--max-ratings N]
// dotnet run -c Release --project bench -- rank [--requests 3000] [--rounds 5] [--max-ratings 30000] [--landing-requests 5000]
// dotnet run -c Release --project bench -- precompute [--max-ratings N] [--lookups 2000] [--partitions 8]
// dotnet run -c Release --project bench -- sentinel [--shadow-rows 20000] [--max-ratings 30000]
// dotnet run -c Release --project bench -- snapshot [--data <movielens folder, e.g. from scripts/synthetic-copy.sh>] [--max-ratings N] [--new-percent 10] [--no-pipeline]
// dotnet run -c Release --project bench -- pointintime [--max-ratings N]
// (the tests run each at a tiny size: tests/Serverless.Tests/Infrastructure/BenchmarkCommandTests.cs)
var what = args.FirstOrDefault() ?? "archive";
int Arg(string name, int fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
var root = Serverless.LocalHost.RepositoryRoot.Path;
Report.Machine();
await using var azurite = await AzuriteProcess.StartAsync(root);
switch (what)
{
    case "archive":
        await ArchiveBenchmark.RunAsync(azurite.ConnectionString, () => azurite.CpuTime, Path.Combine(root, "data", "movielens"), Arg("--rounds", 3), Arg("--live-requests", 2000), args.Contains("--max-ratings") ? Arg("--max-ratings", 0) : null);
        break;
    case "rank":
        await RankBenchmark.RunAsync(azurite.ConnectionString, Path.Combine(root, "data", "movielens"), Arg("--requests", 3000), Arg("--rounds", 5), Arg("--max-ratings", 30_000), Arg("--landing-requests", 5_000));
        break;
    case "precompute":
        await PrecomputeBenchmark.RunAsync(azurite.ConnectionString, Path.Combine(root, "data", "movielens"), args.Contains("--max-ratings") ? Arg("--max-ratings", 0) : null, Arg("--lookups", 2000), Arg("--partitions", 8));
        break;
    case "sentinel":
        await SentinelBenchmark.RunAsync(azurite.ConnectionString, Path.Combine(root, "data", "movielens"), Arg("--max-ratings", 30_000), Arg("--shadow-rows", 20_000));
        break;
    case "snapshot":
        var data = args.SkipWhile(a => a != "--data").Skip(1).FirstOrDefault() ?? Path.Combine(root, "data", "movielens");
        await SnapshotBenchmark.RunAsync(azurite.ConnectionString, data, args.Contains("--max-ratings") ? Arg("--max-ratings", 0) : null, Arg("--new-percent", 10) / 100.0, !args.Contains("--no-pipeline"));
        break;
    case "pointintime":
        await PointInTimeBenchmark.RunAsync(Path.Combine(root, "data", "movielens"), args.Contains("--max-ratings") ? Arg("--max-ratings", 0) : null);
        break;
    default:
        Console.Error.WriteLine($"unknown benchmark '{what}' (known: archive, rank, precompute, sentinel, snapshot, pointintime; the HTTP load test is scripts/load.sh)");
        return 2;
}

return 0;
