using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.Training;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Models;

[Collection(AzuriteCollection.Name)]
public sealed class ModelStoreTests(AzuriteFixture azurite)
{
    private async Task<ModelStore> NewStoreAsync()
    {
        var store = new ModelStore(azurite.Blobs(), azurite.NewPrefix() + "-models");
        await store.EnsureCreatedAsync();
        return store;
    }

    private static TrainedModel Renamed(TrainedModel model, string version) =>
        new(model.Manifest with { Version = version }, model.Transformer, model.InputSchema);

    [Fact]
    public async Task Save_then_load_round_trips_manifest_and_scores()
    {
        var store = await NewStoreAsync();
        var model = Renamed(SharedModels.Get(TrainerKind.LightGbm), "lgbm-1");
        await store.SaveAsync(model);

        var names = new List<string>();
        await foreach (var blob in store.Container.GetBlobsAsync())
        {
            names.Add(blob.Name);
        }

        Assert.Equal(["lgbm-1/manifest.json", "lgbm-1/model.zip"], names.Order(StringComparer.Ordinal));

        using var loaded = await store.LoadAsync("lgbm-1");
        Assert.Equal(model.Manifest.FeatureNames, loaded.Manifest.FeatureNames);
        Assert.Equal(model.Manifest.Metrics, loaded.Manifest.Metrics);
        Assert.Equal(model.Manifest.CreatedAt, loaded.Manifest.CreatedAt);
        using var a = new ModelScorer(model);
        using var b = new ModelScorer(loaded);
        foreach (var row in SyntheticData.Probe(50, 41))
        {
            Assert.Equal(a.Score(row), b.Score(row));
        }
    }

    [Fact]
    public async Task Training_on_logged_features_depends_on_the_newest_snapshot_the_serving_models_used()
    {
        var store = await NewStoreAsync();
        var t0 = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var older = TrainingJob.SnapshotDependency(Serverless.TimeMachine.FactSnapshotStore.BlobName(t0));
        var newer = TrainingJob.SnapshotDependency(Serverless.TimeMachine.FactSnapshotStore.BlobName(t0.AddDays(30)));
        var model = SharedModels.Get(TrainerKind.LogisticRegression);
        await store.SaveAsync(new TrainedModel(model.Manifest with { Version = "old", Dependencies = [older] }, model.Transformer, model.InputSchema));
        await store.SaveAsync(new TrainedModel(model.Manifest with { Version = "new", Dependencies = [newer] }, model.Transformer, model.InputSchema));
        await store.SaveAsync(new TrainedModel(model.Manifest with { Version = "none", Dependencies = [] }, model.Transformer, model.InputSchema));
        static LoggedImpression Served(string version, bool fallback = false) =>
            new(new FeatureLogRecord("l", DateTimeOffset.UnixEpoch, "m", "t", 0, version, "h", [1f], 0.5f, DateTimeOffset.UnixEpoch, fallback), true, "f");

        Assert.Equal(newer[TrainingJob.SnapshotPrefix.Length..], await TrainingJob.ServedSnapshotAsync([Served("old"), Served("new"), Served("old")], store, default));
        Assert.Equal(older[TrainingJob.SnapshotPrefix.Length..], await TrainingJob.ServedSnapshotAsync([Served("old"), Served("none"), Served("missing")], store, default));

        // The Substitute's answers and models without a snapshot name none: the job snapshots the archive instead.
        Assert.Null(await TrainingJob.ServedSnapshotAsync([Served("new", fallback: true), Served("none"), Served("missing")], store, default));
    }

    [Fact]
    public async Task Versions_are_immutable()
    {
        var store = await NewStoreAsync();
        await store.SaveAsync(Renamed(SharedModels.Get(TrainerKind.LogisticRegression), "v1"));

        await Assert.ThrowsAsync<ModelVersionExistsException>(() => store.SaveAsync(Renamed(SharedModels.Get(TrainerKind.LightGbm), "v1")));

        var manifest = await store.GetManifestAsync("v1");
        Assert.Equal(TrainerKind.LogisticRegression, manifest!.Trainer);
    }

    [Fact]
    public async Task A_half_written_version_completes_only_with_the_same_bytes()
    {
        var store = await NewStoreAsync();
        var model = Renamed(SharedModels.Get(TrainerKind.LogisticRegression), "half");
        var zip = BinaryData.FromBytes(SharedModels.Zip(model));
        await store.SaveAsync(model.Manifest, zip);
        await store.Container.DeleteBlobAsync(ModelStore.ManifestPath("half"));
        Assert.Null(await store.GetManifestAsync("half"));

        await Assert.ThrowsAsync<ModelVersionExistsException>(() => store.SaveAsync(model.Manifest, BinaryData.FromBytes(SharedModels.Zip(SharedModels.Get(TrainerKind.LightGbm)))));
        await store.SaveAsync(model.Manifest, zip);

        using var loaded = await store.LoadAsync("half");
        Assert.Equal(TrainerKind.LogisticRegression, loaded.Manifest.Trainer);
    }

    [Fact]
    public async Task Missing_versions_are_null_or_not_found()
    {
        var store = await NewStoreAsync();
        Assert.Null(await store.GetManifestAsync("nope"));
        Assert.Null(await store.DownloadAsync("nope"));
        await Assert.ThrowsAsync<ModelNotFoundException>(() => store.LoadAsync("nope"));
        await Assert.ThrowsAsync<ArgumentException>(() => store.GetManifestAsync("../other/manifest"));
    }

    [Fact]
    public async Task A_tampered_artifact_is_invalid_data_and_the_Sentinel_reports_it()
    {
        var store = await NewStoreAsync();
        var model = Renamed(SharedModels.Get(TrainerKind.LogisticRegression), "tampered");
        await store.SaveAsync(model);
        var blob = store.Container.GetBlobClient(ModelStore.ArtifactPath("tampered"));
        var metadata = (await blob.GetPropertiesAsync()).Value.Metadata;
        await blob.UploadAsync(BinaryData.FromString("garbage"), new Azure.Storage.Blobs.Models.BlobUploadOptions { Metadata = metadata });

        await Assert.ThrowsAsync<InvalidDataException>(() => store.DownloadAsync("tampered"));

        // Loading the garbage zip is an InvalidDataException, which the Sentinel reports as a failed check.
        var stored = new StoredModel(model.Manifest, (await blob.DownloadContentAsync()).Value.Content);
        var report = ModelSentinel.Check(stored.Load, SyntheticData.ConfigHash, SyntheticData.FeatureNames, SyntheticData.Probe(20, 1));
        Assert.False(report.Passed);
        Assert.False(report.Checks[0].Passed);
    }
}
