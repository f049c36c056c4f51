using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serverless.LocalHost;
using Serverless.LocalHost.Azurite;
using Serverless.LocalHost.Hub;
using Serverless.LocalHost.Replay;

// Usage: Serverless.LocalHost [--port 7071] [--storage <connection string>] [--replay <movielens folder>]
//   (without --storage or a Storage environment variable, Azurite is started from node_modules)
//                             [--speed max|<x times real time>] [--max-ratings N] [--exit-after-replay]
var options = CommandLine.Parse(args);
// No storage given: start Azurite from the repository's node_modules for the life of this process.
await using var azurite = options.Storage is null ? await AzuriteProcess.StartAsync(AzuriteProcess.FindRepositoryRoot()) : null;
var clock = new ReplayClock(options.Replay is null ? DateTimeOffset.UtcNow : DateTimeOffset.FromUnixTimeSeconds(0));
var app = LocalFunctionHost.Build(new LocalHostSettings
{
    StorageConnectionString = options.Storage ?? azurite!.ConnectionString,
    Port = options.Port,
    Time = clock,
}, []);
await app.StartAsync();
var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Serverless.LocalHost");
log.LogInformation("Local host serving {Count} functions on {Url}", app.Services.GetRequiredService<Serverless.LocalHost.Functions.HostedFunctions>().Functions.Count, LocalFunctionHost.BaseAddress(app));

if (options.Replay is { } folder)
{
    var replay = new MovieLensReplay(app.Services.GetRequiredService<LocalEventHub>(), clock, app.Services.GetRequiredService<ILogger<MovieLensReplay>>());
    var started = DateTimeOffset.UtcNow;
    var count = await replay.RunAsync(folder, options.Speed, options.MaxRatings, app.Lifetime.ApplicationStopping);
    await app.Services.GetRequiredService<LocalEventHub>().WaitForIdleAsync(TimeSpan.FromMinutes(30), app.Lifetime.ApplicationStopping);
    var seconds = (DateTimeOffset.UtcNow - started).TotalSeconds;
    log.LogInformation("Replayed and archived {Count} facts in {Seconds:F1} s ({Rate:F0} facts/s); replay clock now {Now:O}", count, seconds, count / seconds, clock.GetUtcNow());
    if (options.ExitAfterReplay)
    {
        await app.StopAsync();
        return;
    }
}

await app.WaitForShutdownAsync();

internal sealed record CommandLine(int Port, string? Storage, string? Replay, double? Speed, int? MaxRatings, bool ExitAfterReplay)
{
    public static CommandLine Parse(string[] args)
    {
        var port = 7071;
        var storage = Environment.GetEnvironmentVariable("Storage");
        string? replay = null;
        double? speed = null;
        int? maxRatings = null;
        var exit = false;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--port": port = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--storage": storage = Next(); break;
                case "--replay": replay = Next(); break;
                case "--speed":
                    var s = Next();
                    speed = s == "max" ? null : double.Parse(s, CultureInfo.InvariantCulture) is > 0 and var v ? v : throw new ArgumentException("--speed must be max or a positive number");
                    break;
                case "--max-ratings": maxRatings = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--exit-after-replay": exit = true; break;
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }

        return new CommandLine(port, storage, replay, speed, maxRatings, exit);
    }
}
