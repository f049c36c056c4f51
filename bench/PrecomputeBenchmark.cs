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

        // Quality on the last 10% of time (ratings after T): for each member known before T who liked a
        // title after T that they had not rated before, a list of 10 unseen titles is judged on those likes
        // (hit rate: any of them in the list; NDCG@10, binary relevance). Similar titles are seeded by the
        // member's last like before T; the precomputed top-N is the member's own list; popularity is the
        // 10 most liked titles as of T the member had not rated, on the same members.
        var popularAll = ctx.Stats.Titles.OrderByDescending(kv => kv.Value.LikeCount).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(500).Select(kv => kv.Key).ToList();
        var (similarQ, similarPop, topNQ, topNPop) = (new Quality(), new Quality(), new Quality(), new Quality());
        foreach (var liked in ratings.Where(r => r.EventTime > asOf && r.IsLike).GroupBy(r => r.Member!, StringComparer.Ordinal))
        {
            var history = ctx.Histories.GetValueOrDefault(liked.Key);
            if (history is null) { continue; }
            var seen = history.Select(r => r.Title!).ToHashSet(StringComparer.Ordinal);
            var relevant = liked.Select(r => r.Title!).Where(t => !seen.Contains(t)).ToHashSet(StringComparer.Ordinal);
            if (relevant.Count == 0) { continue; }
            var popularList = popularAll.Where(t => !seen.Contains(t)).Take(10).ToList();
            if (history.Where(r => r.IsLike).MaxBy(r => r.EventTime) is { } last)
            {
                var list = similar.TryGetValue(last.Title!, out var entry) ? entry.Items.Select(x => x.Title).Where(t => !seen.Contains(t)).Take(10).ToList() : [];
                similarQ.Add(list, relevant);
                similarPop.Add(popularList, relevant);
            }

            if (topN.TryGetValue(liked.Key, out var own))
            {
                topNQ.Add(own.Items.Select(x => x.Title).Where(t => !seen.Contains(t)).Take(10).ToList(), relevant);
                topNPop.Add(popularList, relevant);
            }
        }

        // The same precompute from all ratings (as of the last one): every title any member liked.
        var lastRating = ratings[^1].EventTime;
        var snapshotAll = await snapshots.SaveAsync(facts, lastRating, CancellationToken.None);
        var ctxAll = await worker.ContextAsync(snapshotAll, lastRating, CancellationToken.None);
        var versionAll = DerivedVersionIds.Create(lastRating, Guid.NewGuid());
        watch.Restart();
        await Parallel.ForEachAsync(Enumerable.Range(0, partitions), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            async (p, ct) => await worker.ComputeAsync(new PartitionWork(DerivedDatasets.SimilarTitles, versionAll, snapshotAll, lastRating, p, partitions, 20, null), ct));
        var partitionedAll = watch.Elapsed.TotalSeconds;
        watch.Restart();
        SimilarTitles.BruteForce(ctxAll.Likes, 20);
        var bruteAll = watch.Elapsed.TotalSeconds;
        var catalogTitles = facts.Where(f => f.Kind == FactKind.Catalog).Select(f => f.Title).Distinct(StringComparer.Ordinal).Count();

        Report.Header($"Precompute (the Hulk), {partitions} partitions on {Environment.ProcessorCount} cores");
        Report.Row($"similar titles from all {ratings.Count} ratings: {ctxAll.Likes.Titles.Length} liked titles of {catalogTitles} (the rest: genre popularity at lookup), compute + write blobs", partitionedAll, "s", "single-threaded brute force, compute only", bruteAll, "<= 20 s for 9,742 titles");
        Report.Row($"similar titles, all {ctx.Likes.Titles.Length} titles ({facts.Count(f => f.Kind == FactKind.Rating && f.EventTime <= asOf)} ratings), compute + write blobs", partitioned, "s", "single-threaded brute force, compute only", bruteSeconds, "<= 20 s for 9,742 titles");
        Report.Row($"top-20 for all {members.Count} members, one thread", topNSeconds, "s", "similar titles, all titles", partitioned, "-");
        Report.Row("lookup p99 (in-memory version)", lookup.Percentile(99), "ms", "top-N scored on request p99", onRequest.Percentile(99), "<= 3 ms");
        Report.Row("lookup p50 (in-memory version)", lookup.Percentile(50), "ms", "top-N scored on request p50", onRequest.Percentile(50), "-");
        Report.Row($"hit rate@10 of similar titles (seeded by the last like before T), {similarQ.Members} members", similarQ.HitRate, "share", "top-10 popular unseen", Floor(similarPop.HitRate), "above popularity");
        Report.Row($"NDCG@10 of similar titles (seeded by the last like before T), {similarQ.Members} members", similarQ.Ndcg, "score", "top-10 popular unseen", Floor(similarPop.Ndcg), "above popularity");
        Report.Row($"hit rate@10 of the precomputed top-N, {topNQ.Members} members", topNQ.HitRate, "share", "top-10 popular unseen", Floor(topNPop.HitRate), "above popularity");
        Report.Row($"NDCG@10 of the precomputed top-N, {topNQ.Members} members", topNQ.Ndcg, "score", "top-10 popular unseen", Floor(topNPop.Ndcg), "above popularity");
    }

    private static double Floor(double baseline) => Math.Max(baseline, 1e-9);

    /// <summary>Hit rate and NDCG@10 (binary relevance) of ranked lists, averaged over members.</summary>
    private sealed class Quality
    {
        private double hits;
        private double ndcg;

        public int Members { get; private set; }

        public double HitRate => Members == 0 ? 0 : hits / Members;

        public double Ndcg => Members == 0 ? 0 : ndcg / Members;

        public void Add(List<string> ranked, HashSet<string> relevant)
        {
            Members++;
            double dcg = 0, ideal = 0;
            for (var i = 0; i < ranked.Count && i < 10; i++)
            {
                if (relevant.Contains(ranked[i])) { dcg += 1 / Math.Log2(i + 2); }
            }

            for (var i = 0; i < Math.Min(10, relevant.Count); i++)
            {
                ideal += 1 / Math.Log2(i + 2);
            }

            hits += dcg > 0 ? 1 : 0;
            ndcg += ideal > 0 ? dcg / ideal : 0;
        }
    }
}
