using System.Text.Json;
using Serverless.Models;

namespace Serverless.Tests.Models;

public sealed class ModelTrainerTests
{
    public static TheoryData<TrainerKind> Trainers => [TrainerKind.LightGbm, TrainerKind.FastTree, TrainerKind.LogisticRegression];

    [Theory]
    [MemberData(nameof(Trainers))]
    public void Each_trainer_learns_the_synthetic_ground_truth_with_calibrated_probabilities(TrainerKind kind)
    {
        var model = SharedModels.Get(kind);
        var m = model.Manifest.Metrics;

        Assert.True(m[ModelMetricNames.Auc] > 0.75, $"AUC {m[ModelMetricNames.Auc]}");
        Assert.True(m[ModelMetricNames.CalibrationError] < 0.1, $"ECE {m[ModelMetricNames.CalibrationError]}");
        Assert.True(m[ModelMetricNames.LogLoss] < 0.69, $"log loss {m[ModelMetricNames.LogLoss]} is no better than a coin");
        Assert.InRange(m[ModelMetricNames.MeanProbability], m[ModelMetricNames.PositiveRate] - 0.05, m[ModelMetricNames.PositiveRate] + 0.05);
        Assert.Equal(2000, m[ModelMetricNames.ValidationExamples]);

        using var scorer = new ModelScorer(model);
        var probe = SyntheticData.Probe(500, 9);
        var scores = new float[probe.Count];
        scorer.ScoreBatch(probe, scores);
        Assert.All(scores, s => Assert.InRange(s, 0f, 1f));
        Assert.True(scores.Max() - scores.Min() > 0.5f, "scores should spread over the probability range");
    }

    [Fact]
    public void Manifest_carries_request_facts_and_round_trips_as_web_json()
    {
        var manifest = SharedModels.Get(TrainerKind.LightGbm).Manifest;
        Assert.Equal(TrainerKind.LightGbm, manifest.Trainer);
        Assert.Equal(SyntheticData.ConfigHash, manifest.FeatureConfigHash);
        Assert.Equal(SyntheticData.FeatureNames, manifest.FeatureNames);
        Assert.Equal(5000, manifest.ExampleCount);
        Assert.Equal(4000, manifest.Metrics[ModelMetricNames.TrainExamples]);
        Assert.Equal(1000, manifest.Metrics[ModelMetricNames.CalibrationExamples]);
        Assert.Equal(["title-stats@2018-01-01T00:00:00Z"], manifest.Dependencies);
        Assert.StartsWith("5.", manifest.MlNetVersion, StringComparison.Ordinal);

        var json = ModelJson.Serialize(manifest);
        using (var doc = JsonDocument.Parse(json))
        {
            Assert.Equal("LightGbm", doc.RootElement.GetProperty("trainer").GetString());
            Assert.True(doc.RootElement.TryGetProperty("featureConfigHash", out _));
        }

        var back = ModelJson.Deserialize(System.Text.Encoding.UTF8.GetBytes(json));
        Assert.Equal(manifest.Version, back.Version);
        Assert.Equal(manifest.FeatureNames, back.FeatureNames);
        Assert.Equal(manifest.Metrics, back.Metrics);
        Assert.Equal(manifest.TrainedTo, back.TrainedTo);
        Assert.Equal(manifest.Lineage, back.Lineage);
    }

    [Fact]
    public void Garbage_manifest_json_is_invalid_data()
    {
        Assert.Throws<InvalidDataException>(() => ModelJson.Deserialize("{not json"u8));
        Assert.Throws<InvalidDataException>(() => ModelJson.Deserialize("""{"version":"a' or '1"}"""u8));
    }

    [Theory]
    [InlineData(TrainerKind.LightGbm)]
    [InlineData(TrainerKind.FastTree)]
    public void Training_is_deterministic_for_a_seed(TrainerKind kind)
    {
        using var again = ModelTrainer.Train(SyntheticData.Request(kind, "again"));
        var probe = SyntheticData.Probe(200, 5);
        using var a = new ModelScorer(SharedModels.Get(kind));
        using var b = new ModelScorer(again);
        var sa = new float[probe.Count];
        var sb = new float[probe.Count];
        a.ScoreBatch(probe, sa);
        b.ScoreBatch(probe, sb);
        Assert.Equal(sa, sb);
    }

    [Fact]
    public void Expected_calibration_error_is_computed_over_bins()
    {
        // Bin [0.2,0.3): says 0.25, 1 of 4 positive -> perfect. Bin [0.9,1]: says 0.9, 0 of 4 positive -> off by 0.9.
        float[] p = [0.25f, 0.25f, 0.25f, 0.25f, 0.9f, 0.9f, 0.9f, 0.9f];
        bool[] y = [true, false, false, false, false, false, false, false];
        Assert.Equal(0.45, Calibration.ExpectedCalibrationError(p, y), 6);
        Assert.Equal(0, Calibration.ExpectedCalibrationError([0.25f, 0.25f, 0.25f, 0.25f], [true, false, false, false]), 6);
        Assert.Equal(0, Calibration.ExpectedCalibrationError([1f, 0f], [true, false]), 6);
    }

    [Fact]
    public void Bad_requests_are_rejected_with_clear_errors()
    {
        var ok = SyntheticData.Request(TrainerKind.LogisticRegression);
        Assert.Throws<ArgumentException>(() => ModelTrainer.Train(ok with { Version = "v1' or '1' eq '1" }));
        Assert.Throws<ArgumentException>(() => ModelTrainer.Train(ok with { FeatureNames = ["a", "b"] }));
        Assert.Throws<ArgumentException>(() => ModelTrainer.Train(ok with { Validation = ok.Validation.Where(e => e.Label).ToList() }));
        Assert.Throws<ArgumentException>(() => ModelTrainer.Train(ok with { TrainedTo = ok.TrainedFrom.AddDays(-1) }));
    }
}
