using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Serverless.LocalHost;
using Serverless.LocalHost.Hub;
using Serverless.LocalHost.Replay;
using Serverless.Models;
using Serverless.MovieLens;
using Serverless.Ranking;
using Serverless.Training;

namespace Serverless.Benchmarks;

/// <summary>
/// Sustained rank load over HTTP with the default serving settings (history cache TTL 10 s,
/// 250 ms deadline): many connections asking for random members' rankings, counting how many the
/// Substitute answered because the member's history did not arrive in time.
/// </summary>
public static class RankLoadBenchmark
{
    public static async Task RunAsync(string connectionString, string movieLens, int seconds, int connections)
    {
        var facts = MovieLensFacts.Load(movieLens, maxRatings: 30_000);
        var clock = new ReplayClock(facts[0].EventTime!.Value);
        var app = LocalFunctionHost.Build(new LocalHostSettings
        {
            StorageConnectionString = connectionString,
            Port = 0,
            Time = clock,
            Configuration = new Dictionary<string, string?>
            {
                ["Archive:TablePrefix"] = "load",
                ["Archive:BatchPagesPerSecond"] = "2000",
                ["Lumberjack:SampleRate"] = "0",
            },
        });
        await app.StartAsync();
        try
        {
            var hub = app.Services.GetRequiredService<LocalEventHub>();
            await new MovieLensReplay(hub, clock, NullLogger<MovieLensReplay>.Instance).PublishAsync(facts, null, null, CancellationToken.None);
            await hub.WaitForIdleAsync(TimeSpan.FromMinutes(10));
            var trained = await app.Services.GetRequiredService<TrainingJob>().RunAsync(new TrainingJobRequest(TrainerKind.LightGbm, null, true));
            await app.Services.GetRequiredService<LiveModel>().RefreshAsync();
            Console.WriteLine($"model {trained.Manifest.Version}; {facts.Count} facts archived");

            var members = facts.Where(f => f.Kind == "rating").Select(f => f.Member!).Distinct().ToArray();
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections }) { BaseAddress = LocalFunctionHost.BaseAddress(app) };
            var cache = app.Services.GetRequiredService<MemberHistoryCache>();

            // Warm-up: JIT and connections (the cache is cleared by time: the run starts after its TTL).
            for (var i = 0; i < 100; i++)
            {
                (await http.PostAsJsonAsync("api/rank", new { member = members[i % members.Length], count = 10 })).EnsureSuccessStatusCode();
            }

            await Task.Delay(TimeSpan.FromSeconds(11));
            var (hits, misses) = (cache.Hits, cache.Misses);
            var latencies = new Latencies("rank over HTTP");
            long done = 0, substituted = 0, failed = 0;
            var reasons = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
            var watch = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, connections).Select(c => Task.Run(async () =>
            {
                var random = new Random(c);
                while (watch.Elapsed < TimeSpan.FromSeconds(seconds))
                {
                    var member = members[random.Next(members.Length)];
                    JsonObject? body = null;
                    await latencies.TimeAsync(async () =>
                    {
                        using var response = await http.PostAsJsonAsync("api/rank", new { member, count = 10 });
                        body = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<JsonObject>() : null;
                    });
                    Interlocked.Increment(ref done);
                    if (body is null)
                    {
                        Interlocked.Increment(ref failed);
                    }
                    else if ((bool?)body["fallback"] == true)
                    {
                        Interlocked.Increment(ref substituted);
                        reasons.AddOrUpdate((string?)body["fallbackReason"] ?? "?", 1, (_, n) => n + 1);
                    }
                }
            })));
            var elapsed = watch.Elapsed.TotalSeconds;

            Console.WriteLine($"{done} requests in {elapsed:F1} s over {connections} connections, {members.Length} members; failed {failed}");
            Console.WriteLine($"Substitute answers: {substituted} ({100.0 * substituted / Math.Max(1, done):F1}%): {string.Join("; ", reasons.Select(r => $"{r.Key}: {r.Value}"))}");
            Console.WriteLine($"history cache during the run: {cache.Hits - hits} hits, {cache.Misses - misses} misses");
            Console.WriteLine($"history cache stats at the end: {cache.Stats()}");
            Report.Header($"Ranking under sustained load: {connections} connections over HTTP, {seconds} s, default serving settings");
            Report.Row("throughput", done / elapsed, "req/s", "1,000 req/s target", 1000, "-");
            Report.Row("Substitute answers", 100.0 * substituted / Math.Max(1, done), "%", "all requests", 100, "-");
            Report.Row("rank p50 over HTTP", latencies.Percentile(50), "ms", "deadline", 250, "-");
            Report.Row("rank p99 over HTTP", latencies.Percentile(99), "ms", "deadline", 250, "-");
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
