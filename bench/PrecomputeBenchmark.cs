using System.Diagnostics;
using Azure.Storage.Blobs;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Models;
using Serverless.MovieLens;
using Serverless.Precompute;
using Serverless.TimeMachine;
using Serverless.Training;

namespace Serverless.Benchmarks;

/// <summary>
/// The Hulk's figures on MovieLens as of the 90% point of its ratings: similar titles for every title,
/// partitioned and in parallel, written to blob storage (Azurite), against a single-threaded brute
/// force over every pair of titles in the same run; top-N for every member with a model trained here;
/// a lookup from the in-memory version against scoring one member's top-N on request (the work the
/// Rank API does per request); hit rate of similar titles on the ratings after T against popularity.
/// </summary>
public static class PrecomputeBenchmark
{
    public static async Task RunAsync(string connectionString, string movieLens, int? maxRatings, int lookups, int partitions = 8)
    {
        var facts = MovieLensFacts.Load(movieLens, maxRatings).Select(e => new Fact(
            e.Id!, e.Kind switch { "rating" => FactKind.Rating, "catalog" => FactKind.Catalog, _ => FactKind.Retraction },
            e.Member, e.Title, e.Value, e.EventTime!.Value, e.EventTime!.Value, e.Supersedes, e.Attributes)).ToList();
        var ratings = facts.Where(f => f.Kind == FactKind.Rating).OrderBy(f => f.EventTime).ToList();
        var asOf = ratings[ratings.Count * 9 / 10].EventTime;
        var encoder = new FeatureEncoder(FeatureConfig.Default);
        var blobs = new BlobServiceClient(connectionString);
        var store = new DerivedDataStore(blobs, "bench-derived");
        await store.EnsureCreatedAsync();
        var snapshots = new FactSnapshotStore(blobs);
        var snapshot = await snapshots.SaveAsync(facts, asOf, CancellationToken.None);
        var models = new ModelStore(blobs, "bench-models");
        await models.EnsureCreatedAsync();
        using var worker = new PrecomputeWorker(snapshots, store, models, encoder);
        var ctx = await worker.ContextAsync(snapshot, asOf, CancellationToken.None);
        Console.WriteLine($"MovieLens: {facts.Count} facts, as of {asOf:O}: {ctx.Likes.Titles.Length} titles with likes, {ctx.Histories.Count} members");

        // Similar titles: partitions in parallel (what the orchestration fans out), each written as a blob.
        var version = DerivedVersionIds.Create(asOf, Guid.NewGuid());
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, partitions), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            async (p, ct) => await worker.ComputeAsync(new PartitionWork(DerivedDatasets.SimilarTitles, version, snapshot, asOf, p, partitions, 20, null), ct));
        var partitioned = watch.Elapsed.TotalSeconds;
        watch.Restart();
        var brute = SimilarTitles.BruteForce(ctx.Likes, 20);
        var bruteSeconds = watch.Elapsed.TotalSeconds;

        // Top-N per member with a model trained here (logistic regression: quick), against scoring on request.
        var set = TrainingSetBuilder.Build(facts, asOf, encoder, new TrainingSetOptions { Cutoffs = 6 });
        using var trained = ModelTrainer.Train(new TrainingRequest
        {
            FeatureNames = encoder.Names, FeatureConfigHash = encoder.ConfigHash, Train = set.Train, Validation = set.Validation,
            Trainer = TrainerKind.LogisticRegression, Version = "bench-" + version, TrainedFrom = set.From, TrainedTo = set.To, CreatedAt = DateTimeOffset.UtcNow,
        });
        using var scorer = new ModelScorer(trained);
        var members = ctx.Histories.Keys.Order(StringComparer.Ordinal).ToList();
        watch.Restart();
        var topN = worker.TopN(ctx, scorer, members, 20).ToDictionary(e => e.Key, StringComparer.Ordinal);
        var topNSeconds = watch.Elapsed.TotalSeconds;

        var similar = brute.ToDictionary(e => e.Key, StringComparer.Ordinal);
        var lookup = new Latencies("lookup");
        var onRequest = new Latencies("on request");
        for (var i = 0; i < lookups; i++)
        {
            var member = members[i % members.Count];
            await lookup.TimeAsync(() => Task.FromResult(topN[member].Items.Take(10).ToList()));
            await onRequest.TimeAsync(() => Task.FromResult(worker.TopN(ctx, scorer, [member], 10)));
        }

        // Quality on the ratings after T: a member's next like among the titles similar to their last like before T.
        var (hits, popularHits, cases) = (0, 0, 0);
        var popular = ctx.Stats.Titles.OrderByDescending(kv => kv.Value.LikeCount).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(10).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var next in ratings.Where(r => r.EventTime > asOf && r.IsLike).GroupBy(r => r.Member!).Select(g => g.First()))
        {
            var last = ctx.Histories.GetValueOrDefault(next.Member!)?.Where(r => r.IsLike).MaxBy(r => r.EventTime);
            if (last is null) { continue; }
            cases++;
            if (similar.TryGetValue(last.Title!, out var entry) && entry.Items.Take(10).Any(x => x.Title == next.Title)) { hits++; }
            if (popular.Contains(next.Title!)) { popularHits++; }
        }

        Report.Header($"Precompute (the Hulk), {partitions} partitions on {Environment.ProcessorCount} cores");
        Report.Row($"similar titles, all {ctx.Likes.Titles.Length} titles, compute + write blobs", partitioned, "s", "single-threaded brute force, compute only", bruteSeconds, "<= 20 s for 9,742 titles");
        Report.Row($"top-20 for all {members.Count} members, one thread", topNSeconds, "s", "similar titles, all titles", partitioned, "-");
        Report.Row("lookup p99 (in-memory version)", lookup.Percentile(99), "ms", "top-N scored on request p99", onRequest.Percentile(99), "<= 3 ms");
        Report.Row("lookup p50 (in-memory version)", lookup.Percentile(50), "ms", "top-N scored on request p50", onRequest.Percentile(50), "-");
        Report.Row($"hit rate@10 of similar titles (seeded by the last like before T), {cases} members", cases == 0 ? 0 : (double)hits / cases, "share", "top-10 popular", cases == 0 ? 1 : Math.Max((double)popularHits / cases, 1e-9), "above popularity");
    }
}
