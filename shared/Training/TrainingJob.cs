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
/// <param name="VersionSuffix">Appended to the version id ([a-z0-9]{1,12}), so two runs at the same watermark get distinct versions.</param>
/// <param name="RequestedBy">Who asked for the run (the pipeline's RequestedBy), recorded in the version's status history.</param>
/// <param name="RequestedByObjectId">Their Entra object id when a signed-in person asked, recorded beside the name.</param>
public sealed record TrainingJobRequest(TrainerKind Trainer, DateTimeOffset? Watermark, bool Publish, TrainingSetOptions? Options = null, bool FromLoggedFeatures = false, string? VersionSuffix = null, string? RequestedBy = null, string? RequestedByObjectId = null);

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
    IncrementalSnapshots cutter,
    FactSnapshotStore snapshots,
    ModelStore store,
    ModelRegistry registry,
    FeatureEncoder encoder,
    Serverless.Lumberjack.FeatureLogStore featureLog,
    Serverless.Precompute.TitleStatsVersions titleStats,
    Microsoft.Extensions.Options.IOptions<SentinelOptions> sentinel,
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

        // From logged features: the features exactly as served, and the model serves with the data
        // they were computed from (the snapshot of the models that served them), so nothing is
        // re-read from the archive unless no served model names a snapshot.
        var logged = request.FromLoggedFeatures ? await featureLog.LabelledAsync(encoder.ConfigHash, cancellationToken) : null;
        var snapshot = logged is null ? null : await ServedSnapshotAsync(logged, store, cancellationToken);
        List<Fact>? facts = null;
        await using var stages = StageLog.Start(logger, "Training", (snapshot is null ? 1 : 0) + (logged is null ? 5 : 4), ProgressInterval, TimeProvider.System);
        if (snapshot is null)
        {
            // The data step costs what changed: the previous snapshot plus the ingest journal since, or the
            // journal alone; a full read of the archive only when the journal does not cover it.
            stages.Enter("cutting the fact snapshot");
            var read = new ProgressCounter();
            var started = time.GetTimestamp();
            SnapshotCut cut;
            await using (ProgressLog.Start(logger, "Training: reading the archive", "facts", expectedFacts, () => read.Value, ProgressInterval, TimeProvider.System))
            {
                cut = await cutter.CutAsync(watermark, read, cancellationToken);
            }

            facts = cut.Facts;
            snapshot = cut.Manifest.Snapshot;
            logger.LogInformation("Snapshot {Snapshot}: {Facts} facts, cut {Source}{Base} in {Seconds:F1} s ({Files} journal files, {JournalFacts} journal facts, {ArchiveFacts} archive rows read)",
                snapshot, facts.Count, cut.Manifest.Source, cut.Manifest.Base is { } b ? " from " + b : "", time.GetElapsedTime(started).TotalSeconds,
                cut.Manifest.JournalFilesRead, cut.Manifest.JournalFactsRead, cut.Manifest.ArchiveFactsRead);
        }

        // Genres the encoder ignores are reported once per run (training from history reads the catalog).
        var unknownGenres = facts is null ? [] : GenreCoverage.Unknown(facts, encoder.Config);
        if (unknownGenres.Count > 0)
        {
            logger.LogWarning("The catalog names {Unknown} outside feature config {ConfigHash}; the encoder ignores them (add them to FeatureConfig.Genres to use them)",
                GenreCoverage.Describe(unknownGenres), encoder.ConfigHash);
        }

        var options = request.Options ?? new TrainingSetOptions();

        // Time travel reads, at each cutoff, the title-stats version current then (the data side of skew).
        stages.Enter("building the training set");
        var timeline = logged is not null ? null : await titleStats.TimelineAsync(
            TrainingSetBuilder.Cutoffs(facts!.Where(f => f.Kind == FactKind.Rating && f.IngestTime <= watermark).ToList(), watermark, options), cancellationToken);
        var set = logged is not null
            ? TrainingSetBuilder.FromLogs(logged, encoder.ConfigHash, encoder.Count)
            : TrainingSetBuilder.Build(facts!, watermark, encoder, options, timeline);
        if (logged is null)
        {
            // Every set cut from history is scanned for leakage before anything trains on it.
            stages.Enter("scanning for leakage");
            var started = time.GetTimestamp();
            var scan = TimeMachine.LeakageScan.Scan(set, facts!, encoder, timeline);
            logger.LogInformation("{Summary} ({Seconds:F1} s)", scan.Summary(), time.GetElapsedTime(started).TotalSeconds);
            if (!scan.Clean)
            {
                throw new TimeMachine.LeakageException(scan);
            }
        }

        var derived = (set.TitleStatsVersions ?? new Dictionary<DateTimeOffset, string?>()).Values.OfType<string>().Distinct(StringComparer.Ordinal)
            .Select(v => Serverless.Precompute.DerivedDatasets.Dependency(Serverless.Precompute.DerivedDatasets.TitleStats, v)).ToList();
        if (logged is not null)
        {
            // Logged vectors were encoded with the title-stats version serving read at each request (the
            // version current then, as the skew meter takes it): the candidate names those still there.
            var served = await titleStats.ServedAtAsync(
                logged.Where(i => i.Label is not null && i.Record.ConfigHash == encoder.ConfigHash && i.Record.Features.Length == encoder.Count).Select(i => i.Record.RequestTime),
                cancellationToken);
            derived = served.Available.Select(v => v.Dependency).ToList();
            if (served.Gone.Count > 0)
            {
                logger.LogWarning("Logged features were served with title-stats versions removed since ({Gone}); the candidate names only the ones still available",
                    string.Join(", ", served.Gone.Select(v => v.Version)));
            }
        }
        logger.LogInformation("Training {Trainer} on {Train} examples, validating on {Validation}, snapshot {Snapshot}",
            request.Trainer, set.Train.Count, set.Validation.Count, snapshot);

        var source = request.FromLoggedFeatures ? "-logged" : "";
        var suffix = request.VersionSuffix is null ? "" : "-" + ValidSuffix(request.VersionSuffix);
        var version = string.Create(CultureInfo.InvariantCulture, $"{request.Trainer.ToString().ToLowerInvariant()}{source}-{watermark:yyyyMMddHHmmss}-{encoder.ConfigHash[..6]}{suffix}");
        stages.Enter("training " + request.Trainer);
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
            Dependencies = [SnapshotDependency(snapshot), .. derived],
            CreatedAt = time.GetUtcNow(),
        });

        using var buffer = new MemoryStream();
        model.Save(buffer);
        var bytes = buffer.ToArray();

        stages.Enter("golden probes, profiles and the Sentinel's load check");
        // What the Sentinel needs later: the training distribution, the popularity floor on the same
        // holdout, where unseen shadow data starts, and golden probes made by this code.
        facts ??= await snapshots.LoadAsync(snapshot, cancellationToken);
        var data = Ranking.ServingData.FromSnapshot(facts, snapshot, encoder.Config);
        Sentinel.GoldenProbeSet probes;
        using (var scorer = new ModelScorer(model))
        {
            probes = Sentinel.GoldenProbes.Build(facts, data, encoder, scorer);
        }

        var manifest = model.Manifest with
        {
            Metrics = new Dictionary<string, double>(model.Manifest.Metrics) { [ModelMetricNames.PopularityBaselineAuc] = PopularityBaselineAuc(set.Validation, encoder) },
            HeldOutFrom = set.HeldOutFrom ?? watermark,
            FeatureProfiles = Sentinel.FeatureDrift.Profile(encoder.Names, Sentinel.FeatureDrift.ReferenceWindow(set.Train.Select(e => e.Features).ToList())),
            FeatureProfileMembers = set.Contexts is { } contexts && contexts.Count >= set.Train.Count
                ? Sentinel.MemberUnits.Of(Sentinel.FeatureDrift.ReferenceWindow(contexts.Take(set.Train.Count).ToList()).Select(c => c.Member)).Effective
                : null,
            GoldenProbes = probes,
        };

        var probe = probes.Probes.Count > 0 ? probes.Probes.Select(p => p.Features).ToList() : set.Validation.Take(200).Select(e => e.Features).ToList();
        var report = ModelSentinel.Check(() => TrainedModel.Load(new MemoryStream(bytes), manifest), encoder.ConfigHash, encoder.Names, probe, sentinel.Value);
        report = report with { Version = version };   // a model that did not load names no version of its own

        stages.Enter("storing and registering");
        await store.SaveAsync(manifest, new BinaryData(bytes), cancellationToken);
        // The report is stored with the version whatever its verdict (GET /api/models/{version}); the
        // pipeline's validation step replaces it with the full one.
        await Sentinel.CandidateValidator.SaveReportAsync(store, report, cancellationToken);
        await registry.RegisterAsync(manifest, request.RequestedBy ?? ModelRegistry.DefaultRequester, request.RequestedByObjectId, cancellationToken);
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
        return new TrainingJobResult(manifest, report, published, snapshot, unknownGenres);
    }

    /// <summary>
    /// The fact snapshot that logged impressions were served with: the newest snapshot among the
    /// models that scored them (the Substitute's answers name no model). Null when none of those
    /// models is stored with a snapshot; the job then takes a snapshot of the archive instead.
    /// </summary>
    public static async Task<string?> ServedSnapshotAsync(IEnumerable<Serverless.Lumberjack.LoggedImpression> logged, ModelStore store, CancellationToken cancellationToken)
    {
        string? newest = null;
        foreach (var version in logged.Where(i => !i.Record.Fallback).Select(i => i.Record.ModelVersion).Distinct(StringComparer.Ordinal))
        {
            if (await store.GetManifestAsync(version, cancellationToken) is { } manifest && SnapshotOf(manifest) is { } snapshot
                && (newest is null || WatermarkOf(snapshot) > WatermarkOf(newest)))
            {
                newest = snapshot;
            }
        }

        return newest;
    }

    /// <summary>AUC of ranking the examples by title popularity alone: the floor a model must beat.</summary>
    public static double PopularityBaselineAuc(IReadOnlyList<TrainingExample> examples, FeatureEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(encoder);
        var index = encoder.Names.ToList().IndexOf(FeatureNames.TitlePopularity);
        if (index < 0 || examples.Count == 0)
        {
            return double.NaN;
        }

        var data = new Sentinel.ShadowData(examples.Select(e => e.Features).ToList(), examples.Select(e => e.Label).ToList(),
            examples.Select((_, i) => i.ToString(CultureInfo.InvariantCulture)).ToList());
        return new Sentinel.ShadowMetrics(data, examples.Select(e => e.Features[index]).ToArray()).Auc();
    }

    private static string ValidSuffix(string suffix) =>
        suffix.Length is >= 1 and <= 12 && suffix.All(c => char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c))
            ? suffix
            : throw new ArgumentException($"Version suffix '{suffix}' must be 1-12 characters of a-z or 0-9.", nameof(suffix));

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
