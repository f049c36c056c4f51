using System.Diagnostics;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Serverless.Archive;
using Serverless.Events;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.MovieLens;
using Serverless.Ranking;
using Serverless.Sentinel;
using Serverless.TimeMachine;
using Serverless.Training;

namespace Serverless.Benchmarks;

/// <summary>
/// The Sentinel's cost: every check of the pipeline's validator (artifact, schema, dependent data,
/// golden probes, shadow accuracy with its paired bootstrap against a live model, PSI/KS drift,
/// calibration, serving budget) on N labelled shadow rows, next to the time it took to train the same
/// LightGBM candidate in the same run. Shadow rows are the time-split holdout's vectors (the encoder's
/// own vectors, never used to train), cycled to N and grouped into requests of 10.
/// </summary>
public static class SentinelBenchmark
{
    public static async Task RunAsync(string connectionString, string movieLens, int maxRatings, int shadowRows)
    {
        var facts = MovieLensFacts.Load(movieLens, maxRatings).Select(e => new Fact(
            e.Id!, e.Kind switch { "rating" => FactKind.Rating, "catalog" => FactKind.Catalog, _ => FactKind.Retraction },
            e.Member, e.Title, e.Value, e.EventTime!.Value, e.EventTime!.Value, e.Supersedes, e.Attributes)).ToList();
        var asOf = facts.Where(f => f.Kind == FactKind.Rating).Max(f => f.EventTime);
        var encoder = new FeatureEncoder(FeatureConfig.Default);
        var blobs = new BlobServiceClient(connectionString);
        var tables = new TableServiceClient(connectionString);
        var prefix = "bs" + Guid.NewGuid().ToString("N")[..8];
        var snapshots = new FactSnapshotStore(blobs);
        var snapshot = await snapshots.SaveAsync(facts, asOf, CancellationToken.None);
        var store = new ModelStore(blobs, "bench-sentinel-models");
        await store.EnsureCreatedAsync();
        var registry = new ModelRegistry(tables, prefix);
        await registry.EnsureCreatedAsync();
        var setWatch = Stopwatch.StartNew();
        var set = TrainingSetBuilder.Build(facts, asOf, encoder, new TrainingSetOptions { Cutoffs = 6 });
        var setSeconds = setWatch.Elapsed.TotalSeconds;
        Console.WriteLine($"MovieLens: {facts.Count} facts; {set.Train.Count} training rows, {set.Validation.Count} holdout rows; {shadowRows} shadow rows");

        TrainingRequest Request(TrainerKind trainer, string version) => new()
        {
            FeatureNames = encoder.Names, FeatureConfigHash = encoder.ConfigHash, Train = set.Train, Validation = set.Validation,
            Trainer = trainer, Version = version, TrainedFrom = set.From, TrainedTo = set.To, CreatedAt = DateTimeOffset.UtcNow,
            Lineage = [snapshot], Dependencies = [TrainingJob.SnapshotDependency(snapshot)],
        };

        var data = ServingData.Build(facts, TrainingJob.WatermarkOf(snapshot), encoder.Config, snapshot);
        async Task<ModelManifest> SaveAsync(TrainedModel model)
        {
            GoldenProbeSet probes;
            using (var scorer = new ModelScorer(model))
            {
                probes = GoldenProbes.Build(facts, data, encoder, scorer);
            }

            var manifest = model.Manifest with
            {
                HeldOutFrom = set.HeldOutFrom ?? asOf,
                FeatureProfiles = FeatureDrift.Profile(encoder.Names, FeatureDrift.ReferenceWindow(set.Train.Select(e => e.Features).ToList())),
                GoldenProbes = probes,
            };
            using var buffer = new MemoryStream();
            model.Save(buffer);
            await store.SaveAsync(manifest, new BinaryData(buffer.ToArray()));
            await registry.RegisterAsync(manifest);
            return manifest;
        }

        using (var live = ModelTrainer.Train(Request(TrainerKind.LogisticRegression, prefix + "-live")))
        {
            await SaveAsync(live);
        }

        await registry.SetStatusAsync(prefix + "-live", ModelStatus.Approved, "bench");
        await registry.PublishAsync(prefix + "-live", null, "bench");

        var watch = Stopwatch.StartNew();
        using var candidate = ModelTrainer.Train(Request(TrainerKind.LightGbm, prefix + "-candidate"));
        var trainSeconds = watch.Elapsed.TotalSeconds;
        watch.Restart();
        var manifest = await SaveAsync(candidate);
        var saveSeconds = watch.Elapsed.TotalSeconds;

        var holdout = set.Validation.Count > 0 ? set.Validation : set.Train;
        var rows = Enumerable.Range(0, shadowRows).Select(i => holdout[i % holdout.Count]).ToList();
        var shadow = new ShadowData(rows.Select(r => r.Features).ToList(), rows.Select(r => r.Label).ToList(), rows.Select((_, i) => "req-" + (i / 10)).ToList());
        var archiveOptions = Options.Create(new ArchiveOptions { TablePrefix = prefix });
        FeatureLogStore NewFeatureLog() => new(tables, blobs, archiveOptions, new ArchiveTables(tables, blobs, archiveOptions), TimeProvider.System);
        var sentinelOptions = Options.Create(new SentinelOptions { MaxShadowRows = Math.Max(shadowRows, 500) });
        CandidateValidator Validator(FeatureLogStore featureLog) => new(store, registry, new DependencyResolvers([new SnapshotDependencyResolver(snapshots)]), featureLog, encoder,
            sentinelOptions, NullLogger<CandidateValidator>.Instance);

        // The shadow rows land in the feature log as the Lumberjack lands them (requests of 10, after
        // the candidate's held-out time) and are labelled, so the timed run reads them as the pipeline does.
        var landing = NewFeatureLog();
        await landing.EnsureCreatedAsync();
        await LandLabelledAsync(landing, rows, manifest, prefix);

        var stored = (await store.DownloadAsync(manifest.Version))!;
        await Validator(landing).ValidateAsync(stored, shadow);   // warm-up (JIT, first storage reads), nothing stored
        watch.Restart();
        var report = await Validator(NewFeatureLog()).ValidateAsync(manifest.Version);   // read the log, every check, store the report
        var sentinelSeconds = watch.Elapsed.TotalSeconds;
        Console.WriteLine(report.ToString());

        // What every serving loader (and the precompute's) adds for the golden probes: parsing them from the
        // manifest and recomputing them, next to building the serving data from the snapshot, which it does anyway.
        var manifestJson = System.Text.Encoding.UTF8.GetBytes(ModelJson.Serialize(manifest));
        double parseMs = double.MaxValue, checkMs = double.MaxValue, dataMs = double.MaxValue;
        using (var scorer = new ModelScorer(candidate))
        {
            for (var i = 0; i < 5; i++)
            {
                watch.Restart();
                var parsed = ModelJson.Deserialize(manifestJson);
                parseMs = Math.Min(parseMs, watch.Elapsed.TotalMilliseconds);
                watch.Restart();
                var servingData = ServingData.FromSnapshot(facts, snapshot, encoder.Config);
                dataMs = Math.Min(dataMs, watch.Elapsed.TotalMilliseconds);
                watch.Restart();
                var check = GoldenProbes.Check(parsed, servingData, encoder, scorer, facts);
                checkMs = Math.Min(checkMs, watch.Elapsed.TotalMilliseconds);
                if (!check.Passed)
                {
                    throw new InvalidOperationException("golden probes out of sync in the benchmark: " + check.Measured);
                }
            }
        }

        Report.Header($"The Sentinel on {Environment.ProcessorCount} cores");
        var golden = manifest.GoldenProbes!;
        Report.Row($"golden probes on load: parse + recompute {golden.Contexts.Count} contexts, {golden.Probes.Count} probes (manifest {manifestJson.Length / 1024.0:F0} KB), best of 5",
            parseMs + checkMs, "ms", "serving data from the snapshot, which the loader builds anyway", dataMs, "same order as the serving data");
        Report.Row($"Sentinel, every check, {shadowRows} shadow rows read from the feature log, report stored", sentinelSeconds, "s", $"training the same LightGBM candidate, {set.Train.Count} rows", trainSeconds, "<= 5 s for 20,000 rows on 2 cores");
        var ratingCount = facts.Count(f => f.Kind == FactKind.Rating);
        Report.Row($"pipeline train -> validate -> gate on {ratingCount} ratings (time-travel set, LightGBM, probes + store, Sentinel; no archive read, no approval wait)",
            setSeconds + trainSeconds + saveSeconds + sentinelSeconds, "s", "training the candidate alone", trainSeconds, "<= 120 s on all ratings, 2 cores");
    }

    /// <summary>Lands <paramref name="rows"/> as logged requests of 10 impressions after the candidate's held-out time, each file labelled and final.</summary>
    private static async Task LandLabelledAsync(FeatureLogStore featureLog, List<TrainingExample> rows, ModelManifest manifest, string prefix)
    {
        var from = manifest.HeldOutFrom ?? manifest.TrainedTo;
        var events = new List<IncomingEvent>();
        for (var start = 0; start < rows.Count; start += 10)
        {
            var request = start / 10;
            var time = from.AddSeconds(request + 1);
            var records = rows.Skip(start).Take(10).Select((r, k) => new FeatureLogRecord($"{prefix}-req-{request}", time, "m" + (request % 300), "t" + k, k,
                "bench-live", manifest.FeatureConfigHash, r.Features, 0.5f, time, false, time)).ToList();
            events.Add(new IncomingEvent(FeatureLogEvent.From(records).ToJson(), time, request));
        }

        foreach (var batch in events.Chunk(500))
        {
            await featureLog.IngestAsync(batch);
        }

        var labelsOf = Enumerable.Range(0, (rows.Count + 9) / 10).ToDictionary(i => $"{prefix}-req-{i}", i => rows.Skip(i * 10).Take(10).Select(r => r.Label).ToArray());
        var files = await featureLog.ListAsync(openOnly: true, CancellationToken.None);
        foreach (var file in files)
        {
            var labels = (await featureLog.ReadRequestsAsync(file, CancellationToken.None))
                .Select(r => new RequestLabels(r.LogId, labelsOf[r.LogId], labelsOf[r.LogId].Select(_ => "").ToArray()));
            await featureLog.WriteLabelsAsync(file, labels, null, CancellationToken.None);
        }

        await featureLog.MarkLabelledAsync(files.Select(f => (f, true)).ToList(), DateTimeOffset.UtcNow, CancellationToken.None);
    }
}
