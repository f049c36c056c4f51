using System.Diagnostics;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Features;
using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.Ranking;

namespace Serverless.Sentinel;

/// <summary>
/// The pipeline's Sentinel: every check on a registered candidate, with the report stored beside
/// the version ({version}/sentinel.json in the model store). Artifact, schema and hash; dependent
/// data; feature code in sync (golden probes); shadow accuracy against the live model; feature
/// drift; calibration; serving budget. Checks that need a live model or enough labelled logs are
/// skipped with the reason, and the holdout floor applies instead.
/// </summary>
public sealed class CandidateValidator(
    ModelStore store,
    ModelRegistry registry,
    DependencyResolvers dependencies,
    FeatureLogStore featureLog,
    FeatureEncoder encoder,
    IOptions<SentinelOptions> options,
    ILogger<CandidateValidator> logger)
{
    public const string ReportName = "sentinel.json";

    public static string ReportPath(string version) => $"{ModelVersion.Validate(version)}/{ReportName}";

    /// <summary>Validates <paramref name="version"/> and stores its report; throws <see cref="ModelNotFoundException"/> when it is not stored.</summary>
    public async Task<SentinelReport> ValidateAsync(string version, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        var stored = await store.DownloadAsync(version, cancellationToken) ?? throw new ModelNotFoundException($"Model version '{version}' is not in the store.");
        var shadow = await ShadowAsync(stored.Manifest, cancellationToken);
        var report = await ValidateAsync(stored, shadow, cancellationToken);
        await SaveReportAsync(report, cancellationToken);
        logger.LogInformation("Sentinel on {Version}: {Verdict} in {Seconds:F2} s over {Rows} shadow rows",
            version, report.Passed ? "passed" : "failed", Stopwatch.GetElapsedTime(started).TotalSeconds, shadow.Count);
        return report;
    }

    /// <summary>The checks on a stored model and given shadow data (no report stored).</summary>
    public async Task<SentinelReport> ValidateAsync(StoredModel stored, ShadowData shadow, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(shadow);
        var settings = options.Value;
        var manifest = stored.Manifest;
        var probe = manifest.GoldenProbes is { Probes.Count: > 0 } golden
            ? golden.Probes.Select(p => p.Features).ToList()
            : shadow.Features.Take(200).ToList();
        var basic = ModelSentinel.Check(stored.Load, encoder.ConfigHash, encoder.Names, probe, settings, out var loaded);
        var checks = new List<SentinelCheck>(basic.Checks);
        var (dependencyCheck, resolved) = await dependencies.CheckAsync(manifest, cancellationToken);
        checks.Add(dependencyCheck);
        if (loaded is null)
        {
            return new SentinelReport(manifest.Version, checks);
        }

        using var model = loaded;
        using var scorer = new ModelScorer(model);
        var snapshot = DependencyResolvers.Snapshot(resolved);
        var data = snapshot is { } s ? ServingData.FromSnapshot(s.Facts, s.Snapshot, encoder.Config) : null;
        checks.Add(GoldenProbes.Check(manifest, data, encoder, scorer, snapshot?.Facts));

        var candidateScores = new float[shadow.Count];
        scorer.ScoreBatch(shadow.Features, candidateScores);
        var (loadedLive, liveVersion, skip) = await LiveModelAsync(manifest, cancellationToken);
        using var liveModel = loadedLive;
        using var liveScorer = liveModel is null ? null : new ModelScorer(liveModel);
        float[]? liveScores = null;
        if (liveScorer is not null)
        {
            liveScores = new float[shadow.Count];
            liveScorer.ScoreBatch(shadow.Features, liveScores);
        }

        var accuracy = ShadowChecks.Accuracy(shadow, candidateScores, liveScores, liveVersion, skip, settings);
        checks.Add(accuracy);
        checks.Add(accuracy.Skipped
            ? ShadowChecks.HoldoutFloor(manifest) with { Explanation = "the floor applies instead of the shadow comparison: " + accuracy.Explanation }
            : SentinelCheck.Skip(SentinelChecks.HoldoutFloor, "holdout AUC > popularity baseline", "the shadow comparison against live decides"));
        checks.Add(FeatureDrift.Check(manifest.FeatureProfiles, shadow.Features, settings, shadow.RequestCount, shadow.Members, manifest.FeatureProfileMembers));
        checks.Add(ShadowChecks.Calibration(shadow, candidateScores, settings));
        // Timed on logged traffic when there is enough (the rows serving scores), else on the probes;
        // the live model (when it reads the same vectors) is timed beside the candidate, pass by pass.
        var timed = shadow.Count >= ShadowChecks.BudgetBatchSize || probe.Count == 0 ? shadow.Features : probe;
        checks.Add(ShadowChecks.ServingBudget(scorer, timed, settings, liveScorer, liveVersion));
        return new SentinelReport(manifest.Version, checks);
    }

    /// <summary>The most recent labelled impressions logged with the candidate's config and not used to train it.</summary>
    public async Task<ShadowData> ShadowAsync(ModelManifest manifest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var from = manifest.HeldOutFrom ?? manifest.TrainedTo;
        var rows = (await featureLog.LabelledAsync(manifest.FeatureConfigHash, cancellationToken))
            .Where(i => i.Record.RequestTime >= from && i.Record.Features.Length == manifest.FeatureNames.Count)
            .OrderByDescending(i => i.Record.RequestTime).ThenBy(i => i.Record.LogId, StringComparer.Ordinal).ThenBy(i => i.Record.Position)
            .Take(options.Value.MaxShadowRows)
            .ToList();
        return new ShadowData(rows.Select(r => r.Record.Features).ToList(), rows.Select(r => r.Label!.Value).ToList(), rows.Select(r => r.Record.LogId).ToList(), rows.Select(r => r.Record.Member).ToList());
    }

    /// <summary>The live model loaded to score the candidate's vectors (the caller disposes it), or the reason it cannot.</summary>
    private async Task<(TrainedModel? Model, string? Version, string? Skip)> LiveModelAsync(ModelManifest candidate, CancellationToken cancellationToken)
    {
        var live = await registry.GetLiveAsync(cancellationToken);
        if (live is null)
        {
            return (null, null, "no live model to compare with");
        }

        if (live.Version == candidate.Version)
        {
            return (null, live.Version, "the candidate is the live model");
        }

        StoredModel? stored;
        try
        {
            stored = await store.DownloadAsync(live.Version, cancellationToken);
        }
        catch (InvalidDataException ex)
        {
            return (null, live.Version, $"the live model {live.Version} does not load: {ex.Message}");
        }

        if (stored is null)
        {
            return (null, live.Version, $"the live model {live.Version} is not in the store");
        }

        if (stored.Manifest.FeatureConfigHash != candidate.FeatureConfigHash || stored.Manifest.FeatureNames.Count != candidate.FeatureNames.Count)
        {
            return (null, live.Version, $"the live model {live.Version} reads another feature config ({stored.Manifest.FeatureConfigHash}): it cannot score the same vectors");
        }

        try
        {
            return (stored.Load(), live.Version, null);
        }
        catch (InvalidDataException ex)
        {
            return (null, live.Version, $"the live model {live.Version} does not load: {ex.Message}");
        }
    }

    public Task SaveReportAsync(SentinelReport report, CancellationToken cancellationToken) => SaveReportAsync(store, report, cancellationToken);

    /// <summary>Stores (replaces) the report of <paramref name="report"/>'s version beside it in <paramref name="models"/>.</summary>
    public static async Task SaveReportAsync(ModelStore models, SentinelReport report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(report);
        var blob = models.Container.GetBlobClient(ReportPath(report.Version ?? throw new ArgumentException("The report names no version.", nameof(report))));
        await blob.UploadAsync(BinaryData.FromObjectAsJson(report, ModelJson.Options), new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" } }, cancellationToken);
    }

    /// <summary>The stored report of <paramref name="version"/>, or null when it was never validated.</summary>
    public async Task<SentinelReport?> GetReportAsync(string version, CancellationToken cancellationToken = default)
    {
        try
        {
            var content = await store.Container.GetBlobClient(ReportPath(version)).DownloadContentAsync(cancellationToken);
            return JsonSerializer.Deserialize<SentinelReport>(content.Value.Content.ToMemory().Span, ModelJson.Options);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }
}
