using System.IO.Compression;
using Serverless.Models;

namespace Serverless.Tests.Models;

public sealed class TrainedModelTests
{
    [Theory]
    [InlineData(TrainerKind.LightGbm)]
    [InlineData(TrainerKind.FastTree)]
    [InlineData(TrainerKind.LogisticRegression)]
    public void Save_then_load_scores_identically(TrainerKind kind)
    {
        var original = SharedModels.Get(kind);
        using var loaded = SharedModels.Load(SharedModels.Zip(original), original.Manifest);
        var probe = SyntheticData.Probe(300, 11);
        using var before = new ModelScorer(original);
        using var after = new ModelScorer(loaded);
        foreach (var row in probe)
        {
            Assert.Equal(before.Score(row), after.Score(row));
        }
    }

    [Fact]
    public void Garbage_bytes_are_invalid_data()
    {
        var manifest = SharedModels.Get(TrainerKind.LogisticRegression).Manifest;
        var garbage = new byte[4096];
        new Random(3).NextBytes(garbage);
        var ex = Assert.Throws<InvalidDataException>(() => SharedModels.Load(garbage, manifest));
        Assert.Contains("not an ML.NET model", ex.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => SharedModels.Load([], manifest));
    }

    [Fact]
    public void A_zip_that_is_not_a_model_is_invalid_data()
    {
        using var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            using var writer = new StreamWriter(zip.CreateEntry("readme.txt").Open());
            writer.Write("not a model");
        }

        var manifest = SharedModels.Get(TrainerKind.LogisticRegression).Manifest;
        Assert.Throws<InvalidDataException>(() => SharedModels.Load(stream.ToArray(), manifest));
    }

    [Fact]
    public void A_model_whose_input_width_differs_from_its_manifest_is_invalid_data()
    {
        var model = SharedModels.Get(TrainerKind.LogisticRegression);
        var wrong = model.Manifest with { FeatureNames = [.. model.Manifest.FeatureNames, "extra"] };
        var ex = Assert.Throws<InvalidDataException>(() => SharedModels.Load(SharedModels.Zip(model), wrong));
        Assert.Contains("takes 8 features", ex.Message, StringComparison.Ordinal);
    }
}
