using Microsoft.ML;
using Serverless.Models;

namespace Serverless.Tests.Models;

public sealed class ModelSentinelTests
{
    private static readonly IReadOnlyList<float[]> Probe = SyntheticData.Probe(50, 31);

    private static Func<TrainedModel> FromZip(TrainedModel model) => () => SharedModels.Load(SharedModels.Zip(model), model.Manifest);

    private static SentinelCheck Check(SentinelReport report, string name) => Assert.Single(report.Checks, c => c.Name == name);

    [Theory]
    [InlineData(TrainerKind.LightGbm)]
    [InlineData(TrainerKind.FastTree)]
    [InlineData(TrainerKind.LogisticRegression)]
    public void A_good_model_passes_every_check(TrainerKind kind)
    {
        var model = SharedModels.Get(kind);
        var report = ModelSentinel.Check(FromZip(model), SyntheticData.ConfigHash, SyntheticData.FeatureNames, Probe);
        Assert.True(report.Passed, report.ToString());
        Assert.Equal(model.Manifest.Version, report.Version);
        Assert.Equal(
            [ModelSentinel.ArtifactLoads, ModelSentinel.FeatureConfigHash, ModelSentinel.FeatureNames, ModelSentinel.ProbeScoresValid, ModelSentinel.ProbeScoreSpread],
            report.Checks.Select(c => c.Name));
    }

    [Fact]
    public void The_accepted_model_is_handed_over_only_when_it_passes()
    {
        var model = SharedModels.Get(TrainerKind.LogisticRegression);
        var report = ModelSentinel.Check(FromZip(model), SyntheticData.ConfigHash, SyntheticData.FeatureNames, Probe, SentinelOptions.Default, out var accepted);
        Assert.True(report.Passed);
        Assert.NotNull(accepted);
        using (accepted)
        {
            Assert.Equal(model.Manifest.Version, accepted.Manifest.Version);
        }

        ModelSentinel.Check(FromZip(model), "other-hash", SyntheticData.FeatureNames, Probe, SentinelOptions.Default, out var rejected);
        Assert.Null(rejected);
    }

    [Fact]
    public void Garbage_artifact_fails_the_load_check_without_throwing()
    {
        var manifest = SharedModels.Get(TrainerKind.LightGbm).Manifest;
        var garbage = new byte[2048];
        new Random(1).NextBytes(garbage);

        var report = ModelSentinel.Check(() => SharedModels.Load(garbage, manifest), SyntheticData.ConfigHash, SyntheticData.FeatureNames, Probe);

        Assert.False(report.Passed);
        var load = Check(report, ModelSentinel.ArtifactLoads);
        Assert.False(load.Passed);
        Assert.Contains(nameof(InvalidDataException), load.Measured, StringComparison.Ordinal);
        Assert.All(report.Checks, c => Assert.False(c.Passed));
    }

    [Fact]
    public void A_loader_that_throws_anything_is_a_failed_check()
    {
        var report = ModelSentinel.Check(() => throw new IOException("blob gone"), SyntheticData.ConfigHash, SyntheticData.FeatureNames, Probe);
        Assert.False(report.Passed);
        Assert.Contains("blob gone", Check(report, ModelSentinel.ArtifactLoads).Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void A_different_feature_config_hash_fails()
    {
        var report = ModelSentinel.Check(FromZip(SharedModels.Get(TrainerKind.LightGbm)), "cfg-sha256-ffff", SyntheticData.FeatureNames, Probe);
        Assert.False(report.Passed);
        var hash = Check(report, ModelSentinel.FeatureConfigHash);
        Assert.False(hash.Passed);
        Assert.Equal(SyntheticData.ConfigHash, hash.Measured);
        Assert.True(Check(report, ModelSentinel.FeatureNames).Passed);
    }

    [Fact]
    public void A_model_trained_with_other_feature_names_fails_even_with_the_same_hash()
    {
        // Same width, two features swapped: the arithmetic would "work" and silently mis-score (training/serving skew).
        string[] swapped = [.. SyntheticData.FeatureNames];
        (swapped[0], swapped[1]) = (swapped[1], swapped[0]);
        using var other = ModelTrainer.Train(SyntheticData.Request(TrainerKind.LogisticRegression, "swapped", swapped));

        var report = ModelSentinel.Check(FromZip(other), SyntheticData.ConfigHash, SyntheticData.FeatureNames, Probe);

        Assert.False(report.Passed);
        var names = Check(report, ModelSentinel.FeatureNames);
        Assert.False(names.Passed);
        Assert.Contains("index 0", names.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void A_model_with_fewer_features_than_serving_fails_names_and_probe_without_throwing()
    {
        var names = SyntheticData.FeatureNames.Take(7).ToList();
        var request = SyntheticData.Request(TrainerKind.LogisticRegression, "narrow", names);
        using var narrow = ModelTrainer.Train(request with
        {
            Train = request.Train.Select(e => e with { Features = e.Features[..7] }).ToList(),
            Validation = request.Validation.Select(e => e with { Features = e.Features[..7] }).ToList(),
        });

        var report = ModelSentinel.Check(FromZip(narrow), SyntheticData.ConfigHash, SyntheticData.FeatureNames, Probe);

        Assert.False(Check(report, ModelSentinel.FeatureNames).Passed);
        var probe = Check(report, ModelSentinel.ProbeScoresValid);
        Assert.False(probe.Passed);
        Assert.Contains("scoring failed", probe.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_finite_scores_on_the_probe_fail()
    {
        // Logistic regression turns a NaN feature into a NaN probability.
        var probe = Probe.Select(r => (float[])r.Clone()).ToList();
        probe[7][3] = float.NaN;

        var report = ModelSentinel.Check(FromZip(SharedModels.Get(TrainerKind.LogisticRegression)), SyntheticData.ConfigHash, SyntheticData.FeatureNames, probe);

        Assert.False(report.Passed);
        var scores = Check(report, ModelSentinel.ProbeScoresValid);
        Assert.False(scores.Passed);
        Assert.Contains("1/50 invalid; first at row 7: NaN", scores.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void A_model_that_outputs_NaN_fails()
    {
        var good = SharedModels.Get(TrainerKind.LightGbm);
        var report = ModelSentinel.Check(() => Wrap(good, _ => float.NaN), SyntheticData.ConfigHash, SyntheticData.FeatureNames, Probe);
        Assert.False(report.Passed);
        Assert.False(Check(report, ModelSentinel.ProbeScoresValid).Passed);
    }

    [Fact]
    public void A_constant_model_fails_the_spread_check()
    {
        var good = SharedModels.Get(TrainerKind.LightGbm);
        var report = ModelSentinel.Check(() => Wrap(good, _ => 0.5f), SyntheticData.ConfigHash, SyntheticData.FeatureNames, Probe);
        Assert.False(report.Passed);
        Assert.True(Check(report, ModelSentinel.ProbeScoresValid).Passed);
        Assert.False(Check(report, ModelSentinel.ProbeScoreSpread).Passed);
    }

    [Fact]
    public void An_empty_probe_fails()
    {
        var report = ModelSentinel.Check(FromZip(SharedModels.Get(TrainerKind.LightGbm)), SyntheticData.ConfigHash, SyntheticData.FeatureNames, []);
        Assert.False(report.Passed);
        Assert.False(Check(report, ModelSentinel.ProbeScoresValid).Passed);
    }

    private sealed class ProbabilityRow
    {
        public float Probability { get; set; }
    }

    /// <summary>The good model's pipeline with its Probability overwritten: a broken model that still loads.</summary>
    private static TrainedModel Wrap(TrainedModel model, Func<float, float> probability)
    {
        var ml = new MLContext(1);
        var overwrite = ml.Transforms.CustomMapping<ProbabilityRow, ProbabilityRow>((input, output) => output.Probability = probability(input.Probability), contractName: null)
            .Fit(model.Transformer.Transform(ModelRows.Load(ml, [], model.FeatureCount)));
        return new TrainedModel(model.Manifest with { Version = "broken" }, model.Transformer.Append(overwrite), model.InputSchema);
    }
}
