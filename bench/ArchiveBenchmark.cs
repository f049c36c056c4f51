using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Archive;
using Serverless.Events;
using Serverless.Facts;
using Serverless.LocalHost;
using Serverless.LocalHost.Hub;
using Serverless.LocalHost.Replay;
using Serverless.MovieLens;

namespace Serverless.Benchmarks;

/// <summary>
/// Online Archive figures on Azurite:
/// 1. ingestion of every MovieLens rating through the facts trigger (local hub -> facts-ingest ->
///    archive) vs raw Azure.Data.Tables batch inserts of the same rows with the same parallelism;
/// 2. live history reads (50 newest facts of a member, over HTTP) idle vs while a batch export of
///    the whole archive runs, and vs a raw SDK read of the same rows.
/// </summary>
public static class ArchiveBenchmark
{
    public static async Task RunAsync(string connectionString, string movieLens, int rounds, int liveRequests)
    {
        var ratings = MovieLensFacts.Load(movieLens).Where(f => f.Kind == "rating").ToList();
        var clockStart = ratings[^1].EventTime!.Value.AddDays(1);
        var bodies = ratings.Select(f => new OutgoingEvent(f.Member!, FactJson.Serialize(f))).ToList();
        var options = new ArchiveOptions();
        var validator = new FactValidator(new FactLimits());
        var rows = ratings.Select(f => validator.Validate(f, clockStart).Fact!).Select(FactRows.ToEntity).ToList();
        Console.WriteLine($"{ratings.Count} MovieLens ratings; ingest parallelism {options.IngestParallelism}; hub: 4 partitions, batches of up to 500");

        // Warm-up (JIT, connection pools, Azurite) on throwaway tables, not counted.
        await FullPathAsync(connectionString, bodies.Take(10_000).ToList(), clockStart, prefix: "warmfull");
        await RawAsync(connectionString, rows.Take(10_000).ToList(), options.IngestParallelism, prefix: "warmraw");

        var raw = new List<double>();
        var full = new List<double>();
        string? liveTables = null;
        for (var round = 0; round < rounds; round++)
        {
            full.Add(await FullPathAsync(connectionString, bodies, clockStart, prefix: $"full{round}"));
            liveTables ??= "full0";
            raw.Add(await RawAsync(connectionString, rows, options.IngestParallelism, prefix: $"raw{round}"));
            Console.WriteLine($"round {round + 1}: trigger path {full[^1]:F0} facts/s, raw batch inserts {raw[^1]:F0} facts/s");
        }

        Report.Header("Online Archive: ingestion of all MovieLens ratings (Azurite)");
        Report.Row("facts-ingest trigger path, facts/s (mean of rounds)", full.Average(), "facts/s", "raw Tables batch inserts", raw.Average(), ">= 0.8");

        await LiveAsync(connectionString, liveTables!, clockStart, ratings.Select(r => r.Member!).Distinct().ToList(), liveRequests);
    }

    private static async Task<double> RawAsync(string connectionString, List<TableEntity> rows, int parallelism, string prefix)
    {
        var table = new TableServiceClient(connectionString).GetTableClient(prefix + "facts");
        await table.CreateIfNotExistsAsync();
        var chunks = rows.GroupBy(r => r.PartitionKey).SelectMany(g => g.Chunk(100)).ToList();
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (chunk, ct) =>
            await table.SubmitTransactionAsync(chunk.Select(e => new TableTransactionAction(TableTransactionActionType.Add, e)), ct));
        return rows.Count / watch.Elapsed.TotalSeconds;
    }

    private static async Task<double> FullPathAsync(string connectionString, List<OutgoingEvent> bodies, DateTimeOffset clockStart, string prefix)
    {
        await using var app = await StartHostAsync(connectionString, clockStart, prefix);
        var hub = app.Services.GetRequiredService<LocalEventHub>();
        var watch = Stopwatch.StartNew();
        await hub.PublishAsync(Hubs.Facts, bodies);
        await hub.WaitForIdleAsync(TimeSpan.FromMinutes(20));
        var rate = bodies.Count / watch.Elapsed.TotalSeconds;
        var stats = hub.Stats().Single(s => s.Hub == Hubs.Facts);
        if (stats.Checkpointed != bodies.Count || stats.FailedBatches != 0)
        {
            throw new InvalidOperationException($"ingestion incomplete: {stats}");
        }

        return rate;
    }

    private static async Task<WebApplication> StartHostAsync(string connectionString, DateTimeOffset clockStart, string prefix)
    {
        var app = LocalFunctionHost.Build(new LocalHostSettings
        {
            StorageConnectionString = connectionString,
            Port = 0,
            Time = new ReplayClock(clockStart),
            Configuration = new Dictionary<string, string?> { ["Archive:TablePrefix"] = prefix },
        });
        await app.StartAsync();
        return app;
    }

    private static async Task LiveAsync(string connectionString, string prefix, DateTimeOffset clockStart, List<string> members, int requests)
    {
        await using var app = await StartHostAsync(connectionString, clockStart, prefix);
        using var http = new HttpClient { BaseAddress = LocalFunctionHost.BaseAddress(app) };
        var reader = app.Services.GetRequiredService<ArchiveReader>();
        var random = new Random(7);
        string Member() => members[random.Next(members.Count)];

        for (var i = 0; i < 200; i++)
        {
            (await http.GetAsync($"api/archive/members/{Member()}/history?limit=50")).EnsureSuccessStatusCode();
            await reader.HistoryAsync(Member(), 50);
        }

        var rawIdle = new Latencies("raw SDK read, idle");
        var idle = new Latencies("HTTP live read, idle");
        for (var i = 0; i < requests; i++)
        {
            var member = Member();
            await idle.TimeAsync(async () => (await http.GetAsync($"api/archive/members/{member}/history?limit=50")).EnsureSuccessStatusCode());
            await rawIdle.TimeAsync(() => reader.HistoryAsync(member, 50));
        }

        var start = await http.PostAsJsonAsync("api/archive/exports", new { });
        start.EnsureSuccessStatusCode();
        var id = (string?)(await start.Content.ReadFromJsonAsync<JsonObject>())!["id"];
        await Task.Delay(500);
        var loaded = new Latencies("HTTP live read, batch export running");
        for (var i = 0; i < requests; i++)
        {
            var member = Member();
            await loaded.TimeAsync(async () => (await http.GetAsync($"api/archive/members/{member}/history?limit=50")).EnsureSuccessStatusCode());
        }

        var status = await http.GetFromJsonAsync<JsonObject>($"api/archive/exports/{id}");
        var running = (string?)status!["status"];
        Console.WriteLine($"export {id} status after the loaded phase: {running} (the loaded phase only counts while it runs)");
        if (running == "Running")
        {
            var client = app.Services.GetRequiredService<Microsoft.DurableTask.Client.DurableTaskClient>();
            await client.TerminateInstanceAsync(id!);
            await client.WaitForInstanceCompletionAsync(id!);
        }

        Report.Header($"Online Archive: live history read, 50 newest facts of a member ({requests} requests each)");
        Report.Row("live p50, idle (HTTP)", idle.Percentile(50), "ms", "raw SDK read p50", rawIdle.Percentile(50), "-");
        Report.Row("live p99, idle (HTTP)", idle.Percentile(99), "ms", "raw SDK read p99", rawIdle.Percentile(99), "-");
        Report.Row("live p50 under batch export (HTTP)", loaded.Percentile(50), "ms", "idle p50", idle.Percentile(50), "-");
        Report.Row("live p99 under batch export (HTTP)", loaded.Percentile(99), "ms", "idle p99", idle.Percentile(99), "<= 1.5");
    }
}
