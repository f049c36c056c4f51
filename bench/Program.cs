using System.Globalization;
using Serverless.Benchmarks;
using Serverless.LocalHost.Azurite;

// dotnet run -c Release --project bench -- archive [--rounds 3] [--live-requests 2000]
// dotnet run -c Release --project bench -- rank [--requests 3000] [--rounds 5]
// dotnet run -c Release --project bench -- rankload [--seconds 20] [--connections 64]
var what = args.FirstOrDefault() ?? "archive";
int Arg(string name, int fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
var root = Serverless.LocalHost.RepositoryRoot.Path;
Report.Machine();
await using var azurite = await AzuriteProcess.StartAsync(root);
switch (what)
{
    case "archive":
        await ArchiveBenchmark.RunAsync(azurite.ConnectionString, () => azurite.CpuTime, Path.Combine(root, "data", "movielens"), Arg("--rounds", 3), Arg("--live-requests", 2000));
        break;
    case "rank":
        await RankBenchmark.RunAsync(azurite.ConnectionString, Path.Combine(root, "data", "movielens"), Arg("--requests", 3000), Arg("--rounds", 5));
        break;
    case "rankload":
        await RankLoadBenchmark.RunAsync(azurite.ConnectionString, Path.Combine(root, "data", "movielens"), Arg("--seconds", 20), Arg("--connections", 64));
        break;
    default:
        Console.Error.WriteLine($"unknown benchmark '{what}' (known: archive, rank, rankload)");
        return 2;
}

return 0;
