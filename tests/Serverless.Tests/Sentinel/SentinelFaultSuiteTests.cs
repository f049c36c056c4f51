using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Serverless.Features;
using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.Precompute;
using Serverless.Ranking;
using Serverless.Sentinel;
using Serverless.Tests.Fixtures;
using Serverless.Tests.Models;
using Serverless.Tests.Precompute;
using Serverless.Training;

namespace Serverless.Tests.Sentinel;

/// <summary>
/// The fault suite through the pipeline's validator (<see cref="CandidateValidator"/>, the code the
/// validate step runs) on Azurite: each candidate is stored and registered as training would, with a
/// real fact snapshot and a published title-stats version as its dependencies and golden probes made
/// by this encoder; a clean LightGBM model is live. Every fault is caught by the check that exists for
/// it, and clean candidates (3 seeds x 2 trainers, same data as live) pass every check.
/// The data is SyntheticData's known logistic truth, widened to the serving encoder's width (the
/// extra columns are noise the label does not depend on).
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class SentinelFaultSuiteTests(AzuriteFixture azurite) : IDisposable
{
    private static readonly SentinelOptions Options = new() { MinShadowRows = 500, MinShadowRequests = 30 };
    private static readonly FeatureEncoder Encoder = new(FeatureConfig.Default);

    /// <summary>A noise column (the label ignores it): shifting it is drift and nothing else.</summary>
    private static readonly int NoiseColumn = SyntheticData.FeatureNames.Count + 1;

    private readonly PrecomputeWorld world = new(azurite);

    public void Dispose() => world.Dispose();

    internal static List<TrainingExample> Wide(int count, int seed)
    {
        var random = new Random(seed + 1_000);
        return SyntheticData.Examples(count, seed).Select(e =>
        {
            var x = new float[Encoder.Count];
            e.Features.CopyTo(x, 0);
            for (var i = e.Features.Length; i < x.Length; i++)
            {
                x[i] = (float)(random.NextDouble() * 2 - 1);
            }

            return e with { Features = x };
        }).ToList();
    }

    internal static ShadowData Shadow(Func<float[], float[]>? change = null)
    {
        var rows = Wide(4000, 99);
        return new ShadowData(rows.Select(r => change is null ? r.Features : change(r.Features)).ToList(), rows.Select(r => r.Label).ToList(), rows.Select((_, i) => "req-" + (i / 10)).ToList());
    }

    /// <summary>A world: snapshot, a published title-stats version, a validator, and a clean live model.</summary>
    private async Task<(CandidateValidator Validator, string Snapshot, DerivedVersion Stats)> WorldAsync(SentinelOptions? options = null)
    {
        var (validator, snapshot, stats, _) = await WorldWithAlertsAsync(options);
        return (validator, snapshot, stats);
    }

    private async Task<(CandidateValidator Validator, string Snapshot, DerivedVersion Stats, SentinelAlerts Alerts)> WorldWithAlertsAsync(SentinelOptions? options = null)
    {
        var snapshot = await world.SnapshotAsync(world.At(100));
        var stats = await world.PublishDirectAsync(DerivedDatasets.TitleStats, world.At(100));
        await world.ModelStore.EnsureCreatedAsync();
        var resolvers = new DependencyResolvers([new SnapshotDependencyResolver(world.Snapshots), .. DerivedDependencyResolver.All(world.Registry, world.Store)]);
        var featureLog = new FeatureLogStore(azurite.Tables(), azurite.Blobs(), Microsoft.Extensions.Options.Options.Create(world.Archive.Options), world.Archive.Tables, TimeProvider.System);
        await featureLog.EnsureCreatedAsync();
        var alerts = new SentinelAlerts(azurite.Tables(), world.Archive.Options.TablePrefix);
        await alerts.EnsureCreatedAsync();
        var validator = new CandidateValidator(world.ModelStore, world.Models, resolvers, featureLog, Encoder,
            Microsoft.Extensions.Options.Options.Create(options ?? Options), NullLogger<CandidateValidator>.Instance);
        var live = await CandidateAsync("live-1", TrainerKind.LightGbm, snapshot, stats);
        await world.Models.SetStatusAsync(live.Version, ModelStatus.Approved, "setup");
        await world.Models.PublishAsync(live.Version, null, "setup");
        return (validator, snapshot, stats, alerts);
    }

    /// <summary>Trains, adds what the training job adds (profiles, floor, golden probes), stores and registers a candidate.</summary>
    private async Task<ModelManifest> CandidateAsync(string version, TrainerKind trainer, string snapshot, DerivedVersion stats, int seed = 42,
        Func<TrainingRequest, TrainingRequest>? change = null, Func<ModelManifest, ModelManifest>? tamper = null, BinaryData? artifact = null)
    {
        var request = new TrainingRequest
        {
            FeatureNames = Encoder.Names,
            FeatureConfigHash = Encoder.ConfigHash,
            Train = Wide(5000, 1),
            Validation = Wide(2000, 2),
            Trainer = trainer,
            Version = version,
            TrainedFrom = world.At(0),
            TrainedTo = world.At(100),
            Lineage = [snapshot],
            Dependencies = [TrainingJob.SnapshotDependency(snapshot), stats.Dependency],
            Seed = seed,
            CreatedAt = world.At(101),
        };
        request = change?.Invoke(request) ?? request;
        using var model = ModelTrainer.Train(request);
        var facts = await world.Snapshots.LoadAsync(snapshot, CancellationToken.None);
        var data = ServingData.Build(facts, TrainingJob.WatermarkOf(snapshot), Encoder.Config, snapshot);
        GoldenProbeSet probes;
        using (var scorer = new ModelScorer(model))
        {
            probes = GoldenProbes.Build(facts, data, Encoder, scorer);
        }

        var manifest = model.Manifest with
        {
            Metrics = new Dictionary<string, double>(model.Manifest.Metrics) { [ModelMetricNames.PopularityBaselineAuc] = 0.5 },
            HeldOutFrom = world.At(100),
            FeatureProfiles = FeatureDrift.Profile(request.FeatureNames, FeatureDrift.ReferenceWindow(request.Train.Select(e => e.Features).ToList())),
            GoldenProbes = probes,
        };
        manifest = tamper?.Invoke(manifest) ?? manifest;
        await world.ModelStore.SaveAsync(manifest, artifact ?? new BinaryData(SharedModels.Zip(model)));
        await world.Models.RegisterAsync(manifest, "fault-suite");
        return manifest;
    }

    private async Task<SentinelReport> ValidateAsync(CandidateValidator validator, string version, ShadowData? shadow = null)
    {
        var stored = (await world.ModelStore.DownloadAsync(version))!;
        return await validator.ValidateAsync(stored, shadow ?? Shadow());
    }

    private static void AssertCaughtBy(SentinelReport report, string check)
    {
        Assert.False(report.Passed, report.ToString());
        Assert.Contains(report.Failures, f => f.Name == check);
    }

    [Fact]
    public async Task Clean_candidates_of_three_seeds_and_two_trainers_pass_every_check()
    {
        var (validator, snapshot, stats) = await WorldAsync();
        foreach (var trainer in new[] { TrainerKind.LightGbm, TrainerKind.LogisticRegression })
        {
            foreach (var seed in new[] { 1, 2, 3 })
            {
                var candidate = await CandidateAsync($"clean-{trainer}-{seed}".ToLowerInvariant(), trainer, snapshot, stats, seed);
                var report = await ValidateAsync(validator, candidate.Version);
                Assert.True(report.Passed, report.ToString());
                Assert.False(report.Checks.Single(c => c.Name == SentinelChecks.ShadowAccuracy).Skipped);
                Assert.False(report.Checks.Single(c => c.Name == SentinelChecks.FeatureCodeSync).Skipped);
            }
        }
    }

    [Fact]
    public async Task The_validate_step_rejects_a_faulty_candidate_stores_its_report_and_raises_an_alert_per_failed_check()
    {
        var (validator, snapshot, stats, alerts) = await WorldWithAlertsAsync();
        var candidate = await CandidateAsync("fault-step", TrainerKind.LightGbm, snapshot, stats, change: r => r with { FeatureConfigHash = "another-config" });

        var outcome = await new Serverless.Workflows.TrainPipeline.ValidateCandidateActivity(validator, world.Models, alerts).RunAsync(null!, candidate.Version);

        Assert.False(outcome.Passed);
        Assert.Contains(SentinelChecks.FeatureConfigHash, outcome.FailedChecks);
        Assert.Equal(ModelStatus.Rejected, (await world.Models.GetAsync(candidate.Version))!.Status);
        Assert.False((await validator.GetReportAsync(candidate.Version))!.Passed);
        var raised = await alerts.ListAsync(version: candidate.Version);
        Assert.Single(raised, a => a.Kind == AlertKinds.CandidateRejected);
        Assert.Equal(outcome.FailedChecks.Order(StringComparer.Ordinal), raised.Where(a => a.Kind == AlertKinds.CheckFailed).Select(a => a.Check!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Fault_1_a_corrupt_artifact_fails_artifact_loads()
    {
        var (validator, snapshot, stats) = await WorldAsync();
        var candidate = await CandidateAsync("fault-corrupt", TrainerKind.LightGbm, snapshot, stats, artifact: BinaryData.FromBytes([1, 2, 3, 4, 5]));
        AssertCaughtBy(await ValidateAsync(validator, candidate.Version), SentinelChecks.ArtifactLoads);
    }

    [Fact]
    public async Task Fault_2_a_model_trained_with_another_feature_config_fails_the_config_hash()
    {
        var (validator, snapshot, stats) = await WorldAsync();
        var candidate = await CandidateAsync("fault-config", TrainerKind.LightGbm, snapshot, stats, change: r => r with { FeatureConfigHash = "another-config" });
        AssertCaughtBy(await ValidateAsync(validator, candidate.Version), SentinelChecks.FeatureConfigHash);
    }

    [Fact]
    public async Task Fault_3_a_missing_derived_dependency_fails_dependent_data()
    {
        var (validator, snapshot, stats) = await WorldAsync();
        var missing = DerivedDatasets.Dependency(DerivedDatasets.TitleStats, DerivedVersionIds.Create(world.At(100), Guid.NewGuid()));
        var candidate = await CandidateAsync("fault-dependency", TrainerKind.LightGbm, snapshot, stats, change: r => r with { Dependencies = [TrainingJob.SnapshotDependency(snapshot), missing] });
        var report = await ValidateAsync(validator, candidate.Version);
        AssertCaughtBy(report, SentinelChecks.DependentData);
        Assert.Contains("not in the derived-data registry", report.Failures.Single(f => f.Name == SentinelChecks.DependentData).Measured, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fault_4_a_candidate_trained_on_shuffled_labels_fails_shadow_accuracy()
    {
        var (validator, snapshot, stats) = await WorldAsync();
        var random = new Random(5);
        var candidate = await CandidateAsync("fault-shuffled", TrainerKind.LightGbm, snapshot, stats, change: r =>
        {
            var labels = r.Train.Select(e => e.Label).OrderBy(_ => random.Next()).ToList();
            return r with { Train = r.Train.Select((e, i) => e with { Label = labels[i] }).ToList() };
        });
        AssertCaughtBy(await ValidateAsync(validator, candidate.Version), SentinelChecks.ShadowAccuracy);
    }

    [Fact]
    public async Task Fault_5_live_vectors_with_one_feature_shifted_fail_feature_drift_naming_it()
    {
        var (validator, snapshot, stats) = await WorldAsync();
        var candidate = await CandidateAsync("fault-drift", TrainerKind.LightGbm, snapshot, stats);
        var report = await ValidateAsync(validator, candidate.Version, Shadow(f => { var c = (float[])f.Clone(); c[NoiseColumn] += 1.5f; return c; }));
        AssertCaughtBy(report, SentinelChecks.FeatureDrift);
        Assert.Contains(Encoder.Names[NoiseColumn], report.Failures.Single(f => f.Name == SentinelChecks.FeatureDrift).Measured, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fault_6_a_miscalibrated_candidate_fails_calibration()
    {
        // Positives weighted 4x and never recalibrated: inflated probabilities.
        var (validator, snapshot, stats) = await WorldAsync();
        var candidate = await CandidateAsync("fault-inflated", TrainerKind.LogisticRegression, snapshot, stats,
            change: r => r with { Train = r.Train.Select(e => e.Label ? e with { Weight = 4 } : e).ToList() });
        AssertCaughtBy(await ValidateAsync(validator, candidate.Version), SentinelChecks.Calibration);
    }

    [Fact]
    public async Task Fault_7_a_candidate_over_the_serving_budget_fails_it()
    {
        var (validator, snapshot, stats) = await WorldAsync(Options with { ServingBudget = TimeSpan.FromTicks(1) });
        var candidate = await CandidateAsync("fault-slow", TrainerKind.LightGbm, snapshot, stats);
        AssertCaughtBy(await ValidateAsync(validator, candidate.Version), SentinelChecks.ServingBudget);
    }

    [Fact]
    public async Task Fault_8_golden_probes_this_encoder_does_not_reproduce_fail_feature_code_in_sync()
    {
        // The config and its hash are the same; the vectors training made are not what this code makes.
        var (validator, snapshot, stats) = await WorldAsync();
        var column = Encoder.Names.ToList().IndexOf(FeatureNames.TitleMeanRating);
        var candidate = await CandidateAsync("fault-code", TrainerKind.LightGbm, snapshot, stats, tamper: m => m with
        {
            GoldenProbes = m.GoldenProbes! with { Probes = m.GoldenProbes.Probes.Select(p => p with { Features = p.Features.Select((v, f) => f == column ? v + 0.5f : v).ToArray() }).ToList() },
        });
        var report = await ValidateAsync(validator, candidate.Version);
        AssertCaughtBy(report, SentinelChecks.FeatureCodeSync);
        Assert.Contains("features moved: " + FeatureNames.TitleMeanRating, report.Failures.Single(f => f.Name == SentinelChecks.FeatureCodeSync).Measured, StringComparison.Ordinal);
    }
}
