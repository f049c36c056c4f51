using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Serverless.Features;
using Serverless.Models;
using Serverless.Precompute;
using Serverless.Ranking;
using Serverless.Sentinel;
using Serverless.Tests.Fixtures;
using Serverless.Training;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Tests.Sentinel;

/// <summary>
/// The fault suite through the real pipeline: each test builds a faulty candidate, and the training
/// pipeline (<see cref="TrainPipelineOrchestrator"/> on the in-process Durable host, its training
/// step registering the candidate, with the real validation, publish and reject activities) rejects
/// it, naming the check that exists for the fault; the candidate ends Rejected, a check-failed
/// alert names the check, and the stored report is served by GET /api/models/{version}. The
/// validation step reads its shadow data from the real feature log (<see cref="SentinelFaultWorld"/>).
/// Clean candidates (3 seeds x 2 tree trainers, all distinct models, and logistic regression, on the
/// live model's data) reach the approval gate with no alert.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class SentinelFaultSuiteTests(AzuriteFixture azurite, SentinelFaultWorld shared) : IClassFixture<SentinelFaultWorld>
{
    private Task<SentinelFaultWorld> WorldAsync() => shared.BuildAsync(azurite);

    /// <summary>The pipeline rejected <paramref name="version"/> at validation naming <paramref name="check"/>; returns the failed check from the served report.</summary>
    private static async Task<JsonNode> AssertRejectedAsync(SentinelFaultWorld world, SentinelFaultWorld.PipelineRun run, string version, string check)
    {
        Assert.NotNull(run.Result);
        Assert.Equal(PipelineOutcome.RejectedBySentinel, run.Result.Outcome);
        Assert.Equal(version, run.Result.Version);
        Assert.Equal(TrainPipelineOrchestrator.StageRejected, run.Progress.Stage);
        var validation = run.Progress.Validation!;
        Assert.False(validation.Passed);
        Assert.Contains(check, validation.FailedChecks);
        Assert.Contains(check, run.Result.Reason, StringComparison.Ordinal);

        var record = (await world.Models.GetAsync(version))!;
        Assert.Equal(ModelStatus.Rejected, record.Status);
        Assert.False(record.SentinelPassed);
        Assert.NotEqual(version, (await world.Models.GetLiveAsync())!.Version);

        // An alert per failed check, and the rejection.
        var alerts = await world.Alerts.ListAsync(version: version);
        Assert.Contains(alerts, a => a.Kind == AlertKinds.CheckFailed && a.Check == check);
        Assert.Equal(validation.FailedChecks.Order(StringComparer.Ordinal), alerts.Where(a => a.Kind == AlertKinds.CheckFailed).Select(a => a.Check!).Order(StringComparer.Ordinal));
        Assert.Single(alerts, a => a.Kind == AlertKinds.CandidateRejected);

        // The whole report is stored with the version and served.
        var served = await world.GetModelAsync(version);
        Assert.False((bool)served["sentinel"]!["passed"]!);
        var failed = served["sentinel"]!["checks"]!.AsArray().Single(c => (string?)c!["name"] == check)!;
        Assert.False((bool)failed["passed"]!);
        return failed;
    }

    [Fact]
    public async Task Clean_candidates_of_three_seeds_and_two_trainers_reach_the_approval_gate_with_no_alarm()
    {
        var world = await WorldAsync();
        var candidates = new List<ModelManifest>();
        foreach (var trainer in new[] { TrainerKind.LightGbm, TrainerKind.FastTree })
        {
            foreach (var seed in new[] { 1, 2, 3 })
            {
                candidates.Add(await world.CandidateAsync($"clean-{trainer}-{seed}".ToLowerInvariant(), trainer, seed));
            }
        }

        // Six models, not three twice: every seed of each trainer scores the golden probes differently.
        Assert.Equal(6, candidates.Select(c => string.Join(",", c.GoldenProbes!.Probes.Select(p => BitConverter.SingleToInt32Bits(p.Score)))).Distinct().Count());
        candidates.Add(await world.CandidateAsync("clean-logisticregression", TrainerKind.LogisticRegression));

        foreach (var candidate in candidates)
        {
            var run = await world.RunPipelineAsync(candidate);

            Assert.Null(run.Result);
            Assert.Equal(TrainPipelineOrchestrator.StageAwaitingApproval, run.Progress.Stage);
            Assert.True(run.Progress.Validation!.Passed, $"{candidate.Version}: {run.Progress.Validation.Summary}");
            Assert.Empty(await world.Alerts.ListAsync(version: candidate.Version));
            var record = (await world.Models.GetAsync(candidate.Version))!;
            Assert.Equal(ModelStatus.Candidate, record.Status);
            Assert.True(record.SentinelPassed);

            // Judged on the logged traffic, not skipped; the live model timed beside it.
            var checks = (await world.GetModelAsync(candidate.Version))["sentinel"]!["checks"]!.AsArray();
            foreach (var name in new[] { SentinelChecks.ShadowAccuracy, SentinelChecks.FeatureDrift, SentinelChecks.Calibration, SentinelChecks.FeatureCodeSync, SentinelChecks.ServingBudget })
            {
                var check = checks.Single(c => (string?)c!["name"] == name)!;
                Assert.True((bool)check["passed"]! && !(bool)check["skipped"]!, $"{candidate.Version}: {name} {check["measured"]}");
            }

            var budget = checks.Single(c => (string?)c!["name"] == SentinelChecks.ServingBudget)!;
            Assert.NotEmpty(budget["plot"]!["livePassP99Ms"]!.AsArray());
            Assert.Contains($"live {world.Live.Version}", (string?)budget["measured"], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Fault_1_a_corrupt_artifact_is_rejected_by_artifact_loads()
    {
        var world = await WorldAsync();
        var candidate = await world.CandidateAsync("fault-corrupt", TrainerKind.LightGbm, artifact: BinaryData.FromBytes([1, 2, 3, 4, 5]));

        await AssertRejectedAsync(world, await world.RunPipelineAsync(candidate), candidate.Version, SentinelChecks.ArtifactLoads);
    }

    [Fact]
    public async Task Fault_2_a_model_trained_with_another_feature_config_is_rejected_by_the_config_hash()
    {
        var world = await WorldAsync();
        var candidate = await world.CandidateAsync("fault-config", TrainerKind.LightGbm, change: r => r with { FeatureConfigHash = "another-config" });

        await AssertRejectedAsync(world, await world.RunPipelineAsync(candidate), candidate.Version, SentinelChecks.FeatureConfigHash);
    }

    [Fact]
    public async Task Fault_3_a_missing_derived_dependency_is_rejected_by_dependent_data()
    {
        var world = await WorldAsync();
        var missing = DerivedDatasets.Dependency(DerivedDatasets.TitleStats, DerivedVersionIds.Create(world.World.At(100), Guid.NewGuid()));
        var candidate = await world.CandidateAsync("fault-dependency", TrainerKind.LightGbm, change: r => r with { Dependencies = [TrainingJob.SnapshotDependency(world.Snapshot), missing] });

        var failed = await AssertRejectedAsync(world, await world.RunPipelineAsync(candidate), candidate.Version, SentinelChecks.DependentData);
        Assert.Contains("not in the derived-data registry", (string?)failed["measured"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fault_4_a_candidate_trained_on_shuffled_labels_is_rejected_by_shadow_accuracy()
    {
        var world = await WorldAsync();
        var random = new Random(5);
        var candidate = await world.CandidateAsync("fault-shuffled", TrainerKind.LightGbm, change: r =>
        {
            var labels = r.Train.Select(e => e.Label).OrderBy(_ => random.Next()).ToList();
            return r with { Train = r.Train.Select((e, i) => e with { Label = labels[i] }).ToList() };
        });

        var failed = await AssertRejectedAsync(world, await world.RunPipelineAsync(candidate), candidate.Version, SentinelChecks.ShadowAccuracy);
        Assert.Contains($"worse than live {world.Live.Version}", (string?)failed["explanation"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fault_5_live_traffic_with_one_feature_shifted_is_rejected_by_feature_drift_naming_it()
    {
        var world = await WorldAsync();
        var candidate = await world.CandidateAsync("fault-drift", TrainerKind.LightGbm);

        var run = await world.RunPipelineAsync(candidate, world.Validator(log: world.ShiftedLog));

        var failed = await AssertRejectedAsync(world, run, candidate.Version, SentinelChecks.FeatureDrift);
        var shifted = SentinelFaultWorld.Encoder.Names[SentinelFaultWorld.NoiseColumn];
        Assert.Contains("1 drifting: " + shifted, (string?)failed["measured"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fault_6_a_miscalibrated_candidate_is_rejected_by_calibration()
    {
        // Positives weighted 4x and never recalibrated: inflated probabilities.
        var world = await WorldAsync();
        var candidate = await world.CandidateAsync("fault-inflated", TrainerKind.LogisticRegression,
            change: r => r with { Train = r.Train.Select(e => e.Label ? e with { Weight = 4 } : e).ToList() });

        var failed = await AssertRejectedAsync(world, await world.RunPipelineAsync(candidate), candidate.Version, SentinelChecks.Calibration);
        Assert.Equal("the candidate over-predicts likes", (string?)failed["explanation"]);
    }

    [Fact]
    public async Task Fault_7_a_model_of_4000_trees_is_rejected_by_the_serving_budget()
    {
        // A genuinely slow model (LightGBM, 4,000 trees of up to 64 leaves) against the suite's budget:
        // every batch is over it even at its fastest timing, so noise cannot have decided it.
        var world = await WorldAsync();
        var candidate = await world.CandidateAsync("fault-slow", TrainerKind.LightGbm, change: r => r with { NumberOfTrees = 4000, NumberOfLeaves = 64 });

        var failed = await AssertRejectedAsync(world, await world.RunPipelineAsync(candidate), candidate.Version, SentinelChecks.ServingBudget);
        var fastest = failed["plot"]!["batchMs"]!.AsArray().Select(v => (double)v!).ToList();
        Assert.Equal(ShadowChecks.BudgetBatches, fastest.Count);
        Assert.All(fastest, ms => Assert.True(ms > SentinelFaultWorld.ServingBudget.TotalMilliseconds, $"a batch took {ms} ms"));
        Assert.Equal(ShadowChecks.BudgetBatches, failed["plot"]!["liveBatchMs"]!.AsArray().Count);
    }

    [Fact]
    public async Task Fault_8_an_encoder_whose_code_moved_a_feature_under_the_same_config_hash_is_refused_by_the_pipeline_and_the_loader()
    {
        // This deployment's feature code computes title_mean_rating differently; its config and hash are unchanged.
        var world = await WorldAsync();
        var changed = new FeatureEncoder(FeatureConfig.Default, FeatureNames.TitleMeanRating, 0.5f);
        Assert.Equal(SentinelFaultWorld.Encoder.ConfigHash, changed.ConfigHash);
        var candidate = await world.CandidateAsync("fault-code", TrainerKind.LightGbm);

        var run = await world.RunPipelineAsync(candidate, world.Validator(encoder: changed));

        var failed = await AssertRejectedAsync(world, run, candidate.Version, SentinelChecks.FeatureCodeSync);
        Assert.Contains("features moved: " + FeatureNames.TitleMeanRating + ";", (string?)failed["measured"], StringComparison.Ordinal);
        Assert.DoesNotContain(SentinelChecks.FeatureConfigHash, run.Progress.Validation!.FailedChecks);

        // A serving instance running that code refuses the live model (trained by the old code), naming
        // the feature; one running the code the model was trained with loads it.
        var loaderAlerts = new SentinelAlerts(azurite.Tables(), azurite.NewPrefix());
        await loaderAlerts.EnsureCreatedAsync();
        using var refusing = Loader(world, changed, loaderAlerts);
        var refused = (await refusing.RefreshAsync())!;
        Assert.False(refused.Passed);
        Assert.Null(refusing.Current);
        var codeSync = refused.Failures.Single(f => f.Name == SentinelChecks.FeatureCodeSync);
        Assert.Contains("features moved: " + FeatureNames.TitleMeanRating + ";", codeSync.Measured, StringComparison.Ordinal);
        Assert.Equal([SentinelChecks.FeatureCodeSync], refused.Failures.Select(f => f.Name));
        Assert.Equal(AlertKinds.LoaderRefused, Assert.Single(await loaderAlerts.ListAsync(version: world.Live.Version)).Kind);
        Assert.Equal(world.Live.Version, (await world.Models.GetLiveAsync())!.Version);

        using var accepting = Loader(world, SentinelFaultWorld.Encoder, loaderAlerts);
        Assert.True((await accepting.RefreshAsync())!.Passed);
        Assert.Equal(world.Live.Version, accepting.Current!.Manifest.Version);
    }

    /// <summary>A serving instance's loader with <paramref name="encoder"/> as its feature code; it leaves the alias alone when it refuses.</summary>
    private static LiveModel Loader(SentinelFaultWorld world, FeatureEncoder encoder, SentinelAlerts alerts) =>
        new(world.Models, world.World.ModelStore, world.Resolvers, encoder, TimeProvider.System, alerts,
            Microsoft.Extensions.Options.Options.Create(SentinelFaultWorld.Options with { RepublishOnRefusal = false }), NullLogger<LiveModel>.Instance);
}
