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
/// 2. the serving read (500 newest facts of a member): the recent-history entity vs the fact-row query;
/// 3. live history reads (50 newest facts of a member, over HTTP) idle vs while a batch export of
///    the whole archive runs, and vs a raw SDK read of the same rows.
/// </summary>
public static class ArchiveBenchmark
{
    public static async Task RunAsync(string connectionString, Func<TimeSpan> azuriteCpu, string movieLens, int rounds, int liveRequests, int? maxRatings = null)
    {
        var cpu = new CpuMeter(azuriteCpu);
        var ratings = MovieLensFacts.Load(movieLens, maxRatings).Where(f => f.Kind == "rating").ToList();
        var clockStart = ratings[^1].EventTime!.Value.AddDays(1);
        var bodies = ratings.Select(f => new OutgoingEvent(f.Member!, FactJson.Serialize(f))).ToList();
        var options = new ArchiveOptions();
        var validator = new FactValidator(new FactLimits());
        var rows = ratings.Select(f => validator.Validate(f, clockStart).Fact!).Select(FactRows.ToEntity).ToList();
        Console.WriteLine($"{ratings.Count} MovieLens ratings; ingest parallelism {options.IngestParallelism}; hub: 4 partitions, batches of up to 500");

        // Warm-up (JIT, connection pools, Azurite) on throwaway tables, not counted.
        await FullPathAsync(connectionString, bodies.Take(Math.Min(10_000, bodies.Count / 2)).ToList(), clockStart, prefix: "warmfull", cpu);
        await RawAsync(connectionString, rows.Take(Math.Min(10_000, rows.Count / 2)).ToList(), options.IngestParallelism, prefix: "warmraw", cpu);
        var fullCpu = new List<CpuUse>();
        var rawCpu = new List<CpuUse>();

        var raw = new List<double>();
        var full = new List<double>();
        string? liveTables = null;
        for (var round = 0; round < rounds; round++)
        {
            full.Add(await FullPathAsync(connectionString, bodies, clockStart, prefix: $"full{round}", cpu));
            fullCpu.Add(cpu.Last);
            liveTables ??= "full0";
            raw.Add(await RawAsync(connectionString, rows, options.IngestParallelism, prefix: $"raw{round}", cpu));
            rawCpu.Add(cpu.Last);
            Console.WriteLine($"round {round + 1}: trigger path {full[^1]:F0} facts/s ({fullCpu[^1].PerItem(bodies.Count)}), raw batch inserts {raw[^1]:F0} facts/s ({rawCpu[^1].PerItem(rows.Count)})");
        }

        Report.Header("Online Archive: ingestion of all MovieLens ratings (Azurite)");
        Report.Row("facts-ingest trigger path, facts/s (mean of rounds)", full.Average(), "facts/s", "raw Tables batch inserts", raw.Average(), ">= 0.8");
        Report.Row("Azurite CPU per fact, trigger path (mean of rounds)", fullCpu.Average(c => c.Azurite.TotalMicroseconds) / bodies.Count, "us", "raw Tables batch inserts", rawCpu.Average(c => c.Azurite.TotalMicroseconds) / rows.Count, "-");
        Report.Row("benchmark process CPU per fact, trigger path (mean of rounds)", fullCpu.Average(c => c.Self.TotalMicroseconds) / bodies.Count, "us", "raw Tables batch inserts", rawCpu.Average(c => c.Self.TotalMicroseconds) / rows.Count, "-");

        var members = ratings.Select(r => r.Member!).Distinct().ToList();
        var heaviest = ratings.GroupBy(r => r.Member!).OrderByDescending(g => g.Count()).Take(20).Select(g => g.Key).ToList();
        await ServingReadAsync(connectionString, liveTables!, clockStart, members, heaviest, liveRequests);
        await LiveAsync(connectionString, liveTables!, clockStart, members, liveRequests);
    }

    /// <summary>
    /// The serving read (a member's 500 newest facts, as ranking asks): one point read of the member's
    /// recent-history entity against the fact-row query it replaces, interleaved, in process.
    /// </summary>
    private static async Task ServingReadAsync(string connectionString, string prefix, DateTimeOffset clockStart, List<string> members, List<string> heaviest, int requests)
    {
        await using var app = await StartHostAsync(connectionString, clockStart, prefix);
        var reader = app.Services.GetRequiredService<ArchiveReader>();
        var time = app.Services.GetRequiredService<TimeProvider>();
        var random = new Random(11);
        const int limit = 500;
        for (var i = 0; i < 200; i++)
        {
            var member = members[random.Next(members.Count)];
            await reader.HistoryAsync(member, limit);
            await reader.HistoryFromFactRowsAsync(member, limit, time.GetUtcNow());
        }

        var before = reader.LiveCounts();
        var results = new List<(string Name, Latencies Entity, Latencies Rows)>();
        foreach (var (name, pool) in new[] { ("random members", members), ("the 20 heaviest members (1,000-2,700 ratings)", heaviest) })
        {
            var entity = new Latencies("recent entity");
            var rows = new Latencies("fact-row query");
            for (var i = 0; i < requests; i++)
            {
                var member = pool[random.Next(pool.Count)];
                await entity.TimeAsync(() => reader.HistoryAsync(member, limit));
                await rows.TimeAsync(() => reader.HistoryFromFactRowsAsync(member, limit, time.GetUtcNow()));
            }

            results.Add((name, entity, rows));
        }

        var counts = reader.LiveCounts();
        Console.WriteLine($"live reads answered by the entity: {counts.FromRecent - before.FromRecent}, by the fact rows: {counts.FromFactRows - before.FromFactRows}");
        Report.Header($"Online Archive: the serving read, 500 newest facts of a member, in process ({requests} requests each)");
        foreach (var (name, entity, rows) in results)
        {
            Report.Row($"p50, {name}: recent entity", entity.Percentile(50), "ms", "fact-row query p50", rows.Percentile(50), "-");
            Report.Row($"p99, {name}: recent entity", entity.Percentile(99), "ms", "fact-row query p99", rows.Percentile(99), "-");
        }
    }

    private static async Task<double> RawAsync(string connectionString, List<TableEntity> rows, int parallelism, string prefix, CpuMeter cpu)
    {
        var table = new TableServiceClient(connectionString).GetTableClient(prefix + "facts");
        await table.CreateIfNotExistsAsync();
        var chunks = rows.GroupBy(r => r.PartitionKey).SelectMany(g => g.Chunk(100)).ToList();
        using var measured = cpu.Measure();
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (chunk, ct) =>
            await table.SubmitTransactionAsync(chunk.Select(e => new TableTransactionAction(TableTransactionActionType.Add, e)), ct));
        return rows.Count / watch.Elapsed.TotalSeconds;
    }

    private static async Task<double> FullPathAsync(string connectionString, List<OutgoingEvent> bodies, DateTimeOffset clockStart, string prefix, CpuMeter cpu)
    {
        await using var app = await StartHostAsync(connectionString, clockStart, prefix);
        var hub = app.Services.GetRequiredService<LocalEventHub>();
        double rate;
        using (cpu.Measure())
        {
            var watch = Stopwatch.StartNew();
            await hub.PublishAsync(Hubs.Facts, bodies);
            await hub.WaitForIdleAsync(TimeSpan.FromMinutes(20));
            rate = bodies.Count / watch.Elapsed.TotalSeconds;
        }

        // The archive's consumer group: the facts hub may have others (e.g. label joins), each with its own checkpoints.
        var stats = hub.Stats().Single(s => s.Hub == Hubs.Facts && s.ConsumerGroup == Hubs.FactsConsumerGroup);
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
