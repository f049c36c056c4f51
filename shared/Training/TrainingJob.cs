using System.Globalization;
using Microsoft.Extensions.Logging;
using Serverless.Archive;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Hosting;
using Serverless.Models;
using Serverless.TimeMachine;

namespace Serverless.Training;

/// <summary>What to train.</summary>
/// <param name="FromLoggedFeatures">Train on the Lumberjack's labelled impressions (the features exactly as served) instead of cutting a set from snapshots.</param>
public sealed record TrainingJobRequest(TrainerKind Trainer, DateTimeOffset? Watermark, bool Publish, TrainingSetOptions? Options = null, bool FromLoggedFeatures = false);

/// <summary>What a training run produced.</summary>
/// <param name="UnknownGenres">Catalog genres outside the feature config, which the encoder ignored in this run (reported once).</param>
public sealed record TrainingJobResult(ModelManifest Manifest, SentinelReport Sentinel, bool Published, string Snapshot, IReadOnlyList<UnknownGenre>? UnknownGenres = null);

/// <summary>
/// Train from the archive: snapshot every fact known at W (the Time Machine), cut a training set
/// with the serving encoder, train, check with the Sentinel, store and register the model and,
/// when asked, publish it as live. The main job calls it directly; the durable training pipeline
/// (workflows/TrainPipeline) calls it without publishing and puts an approval gate before publishing.
/// </summary>
public sealed class TrainingJob(
    ArchiveReader reader,
    FactSnapshotStore snapshots,
    ModelStore store,
    ModelRegistry registry,
    FeatureEncoder encoder,
    Serverless.Lumberjack.FeatureLogStore featureLog,
    TimeProvider time,
    ILogger<TrainingJob> logger)
{
    /// <summary>How often the job logs how far it has read the archive.</summary>
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(5);

    public Task<TrainingJobResult> RunAsync(TrainingJobRequest request, CancellationToken cancellationToken = default) =>
        RunAsync(request, null, cancellationToken);

    /// <summary>
    /// Runs the job. Reading the archive is the bulk of its time (every partition through the
    /// throttled batch interface), so it logs its progress meanwhile; a caller that knows how many
    /// facts the archive holds (<paramref name="expectedFacts"/>) gets the time left too.
    /// </summary>
    public async Task<TrainingJobResult> RunAsync(TrainingJobRequest request, long? expectedFacts, CancellationToken cancellationToken = default)
    {
        var watermark = request.Watermark ?? time.GetUtcNow();
        var read = new ProgressCounter();
        List<Fact> facts;
        await using (ProgressLog.Start(logger, "Training: reading the archive", "facts", expectedFacts, () => read.Value, ProgressInterval, TimeProvider.System))
        {
            facts = await FactSnapshotStore.ReadArchiveAsync(reader, watermark, read, cancellationToken);
        }

        var unknownGenres = GenreCoverage.Unknown(facts, encoder.Config);
        if (unknownGenres.Count > 0)
        {
            logger.LogWarning("The catalog names {Unknown} outside feature config {ConfigHash}; the encoder ignores them (add them to FeatureConfig.Genres to use them)",
                GenreCoverage.Describe(unknownGenres), encoder.ConfigHash);
        }

        var snapshot = await snapshots.SaveAsync(facts, watermark, cancellationToken);
        var set = request.FromLoggedFeatures
            ? TrainingSetBuilder.FromLogs(await featureLog.LabelledAsync(encoder.ConfigHash, cancellationToken), encoder.ConfigHash, encoder.Count)
            : TrainingSetBuilder.Build(facts, watermark, encoder, request.Options ?? new TrainingSetOptions());
        logger.LogInformation("Training {Trainer} on {Train} examples, validating on {Validation}, snapshot {Snapshot}",
            request.Trainer, set.Train.Count, set.Validation.Count, snapshot);

        var source = request.FromLoggedFeatures ? "-logged" : "";
        var version = string.Create(CultureInfo.InvariantCulture, $"{request.Trainer.ToString().ToLowerInvariant()}{source}-{watermark:yyyyMMddHHmmss}-{encoder.ConfigHash[..6]}");
        using var model = ModelTrainer.Train(new TrainingRequest
        {
            FeatureNames = encoder.Names,
            FeatureConfigHash = encoder.ConfigHash,
            Train = set.Train,
            Validation = set.Validation,
            Trainer = request.Trainer,
            Version = version,
            TrainedFrom = set.From,
            TrainedTo = set.To,
            Lineage = request.FromLoggedFeatures ? [snapshot, "featurelog:" + encoder.ConfigHash] : [snapshot],
            Dependencies = [SnapshotDependency(snapshot)],
            CreatedAt = time.GetUtcNow(),
        });

        var probe = set.Validation.Take(200).Select(e => e.Features).ToList();
        using var buffer = new MemoryStream();
        model.Save(buffer);
        var bytes = buffer.ToArray();
        var report = ModelSentinel.Check(() => TrainedModel.Load(new MemoryStream(bytes), model.Manifest), encoder.ConfigHash, encoder.Names, probe);

        await store.SaveAsync(model, cancellationToken);
        await registry.RegisterAsync(model.Manifest, cancellationToken);
        var published = false;
        if (!report.Passed)
        {
            await registry.SetStatusAsync(version, ModelStatus.Rejected, "sentinel: " + string.Join("; ", report.Failures.Select(f => $"{f.Name} {f.Measured} (needs {f.Threshold})")), cancellationToken);
        }
        else if (request.Publish)
        {
            await registry.SetStatusAsync(version, ModelStatus.Approved, "training command with --publish", cancellationToken);
            var live = await registry.GetLiveAsync(cancellationToken);
            await registry.PublishAsync(version, live?.Version, "training command", cancellationToken);
            published = true;
        }

        logger.LogInformation("Model {Version}: AUC {Auc:F3}, calibration error {Ece:F3}, sentinel {Verdict}, published {Published}",
            version, model.Manifest.Metrics.GetValueOrDefault(ModelMetricNames.Auc), model.Manifest.Metrics.GetValueOrDefault(ModelMetricNames.CalibrationError),
            report.Passed ? "passed" : "failed", published);
        return new TrainingJobResult(model.Manifest, report, published, snapshot, unknownGenres);
    }

    public const string SnapshotPrefix = "snapshot:";

    public static string SnapshotDependency(string snapshot) => SnapshotPrefix + snapshot;

    /// <summary>The fact snapshot a model depends on, or null.</summary>
    public static string? SnapshotOf(ModelManifest manifest) =>
        manifest.Dependencies.FirstOrDefault(d => d.StartsWith(SnapshotPrefix, StringComparison.Ordinal))?[SnapshotPrefix.Length..];

    /// <summary>The watermark encoded in a snapshot's name.</summary>
    public static DateTimeOffset WatermarkOf(string snapshot) =>
        snapshot.StartsWith("facts-", StringComparison.Ordinal) && long.TryParse(snapshot.AsSpan(6, 19), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            ? new DateTimeOffset(ticks, TimeSpan.Zero)
            : throw new InvalidDataException($"'{snapshot}' is not a fact snapshot name");
}
