using Serverless.Models;
using Serverless.Precompute;
using Serverless.Sentinel;
using Serverless.Tests.Fixtures;
using Serverless.Tests.Models;
using Serverless.Tests.Precompute;
using Serverless.Training;

namespace Serverless.Tests.Sentinel;

/// <summary>The dependent-data check on a model that reads a versioned derived dataset (the Hulk's title statistics), on Azurite.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class DerivedDependencyTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task A_named_derived_version_that_exists_passes_and_one_that_is_missing_fails_dependent_data()
    {
        using var w = new PrecomputeWorld(azurite);
        var snapshot = await w.SnapshotAsync(w.At(100));
        var published = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(100));
        var resolvers = new DependencyResolvers([new SnapshotDependencyResolver(w.Snapshots), .. DerivedDependencyResolver.All(w.Registry, w.Store)]);
        var manifest = SharedModels.Get(TrainerKind.LightGbm).Manifest;
        var missingVersion = DerivedVersionIds.Create(w.At(100), Guid.NewGuid());

        var (present, resolved) = await resolvers.CheckAsync(manifest with { Dependencies = [TrainingJob.SnapshotDependency(snapshot), published.Dependency] }, default);
        var (missing, _) = await resolvers.CheckAsync(manifest with
        {
            Dependencies = [TrainingJob.SnapshotDependency(snapshot), DerivedDatasets.Dependency(DerivedDatasets.TitleStats, missingVersion)],
        }, default);

        Assert.True(present.Passed, present.Measured);
        Assert.True(resolved.Single(r => r.Dependency == published.Dependency).Available);
        Assert.False(missing.Passed);
        Assert.Equal(SentinelChecks.DependentData, missing.Name);
        Assert.Equal(1, missing.Value);
        Assert.Contains($"{missingVersion}' is not in the derived-data registry", missing.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_derived_version_whose_files_were_removed_fails_dependent_data()
    {
        using var w = new PrecomputeWorld(azurite);
        var snapshot = await w.SnapshotAsync(w.At(100));
        var published = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(100));
        await w.Store.DeleteVersionAsync(DerivedDatasets.TitleStats, published.Version);
        var resolvers = new DependencyResolvers([new SnapshotDependencyResolver(w.Snapshots), .. DerivedDependencyResolver.All(w.Registry, w.Store)]);
        var manifest = SharedModels.Get(TrainerKind.LightGbm).Manifest with { Dependencies = [TrainingJob.SnapshotDependency(snapshot), published.Dependency] };

        var (check, _) = await resolvers.CheckAsync(manifest, default);

        Assert.False(check.Passed);
        Assert.Contains("its files are gone", check.Measured, StringComparison.Ordinal);
    }
}
