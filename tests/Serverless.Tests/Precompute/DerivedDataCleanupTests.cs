using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Serverless.Models;
using Serverless.Precompute;
using Serverless.Tests.Fixtures;
using Serverless.Tests.Models;

namespace Serverless.Tests.Precompute;

/// <summary>Cleanup of old derived-data versions on Azurite: past grace and unreferenced goes; referenced, within grace and current stay.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class DerivedDataCleanupTests(AzuriteFixture azurite)
{
    private static readonly TimeSpan Grace = TimeSpan.FromDays(7);

    private static DerivedDataCleanup Cleanup(PrecomputeWorld w) =>
        new(w.Registry, w.Store, w.Models, w.ModelStore, Options.Create(new PrecomputeOptions { CleanupGrace = Grace }), w.Clock, NullLogger<DerivedDataCleanup>.Instance);

    /// <summary>A model whose manifest names <paramref name="dependsOn"/>, stored and registered (status Candidate).</summary>
    private static async Task<string> RegisterModelAsync(PrecomputeWorld w, string suffix, params string[] dependsOn)
    {
        var shared = SharedModels.Get(TrainerKind.LogisticRegression);
        var manifest = shared.Manifest with { Version = $"cleanup-{suffix}-{Guid.NewGuid():N}"[..30], Dependencies = [.. dependsOn] };
        await w.ModelStore.EnsureCreatedAsync();
        await w.ModelStore.SaveAsync(manifest, new BinaryData(SharedModels.Zip(shared)));
        await w.Models.RegisterAsync(manifest);
        return manifest.Version;
    }

    [Fact]
    public async Task A_version_past_grace_and_unreferenced_is_removed_while_referenced_recent_and_current_ones_are_kept()
    {
        using var w = new PrecomputeWorld(azurite);
        var v1 = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(100));
        w.Clock.Advance(TimeSpan.FromDays(1));
        var v2 = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(101));
        w.Clock.Advance(TimeSpan.FromDays(1));
        var v3 = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(102));
        w.Clock.Advance(TimeSpan.FromDays(10));
        var v4 = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(112));
        var candidate = await RegisterModelAsync(w, "c", v2.Dependency);

        var result = await Cleanup(w).RunAsync();

        // v1: replaced 11 days ago, no model names it. v2: as old, but a candidate depends on it.
        // v3: replaced just now (within grace). v4: the current version.
        Assert.Equal([v1.Dependency], result.Removed);
        Assert.StartsWith(DerivedDataCleanup.KeptReferenced, result.Kept[v2.Dependency], StringComparison.Ordinal);
        Assert.Contains(candidate, result.Kept[v2.Dependency], StringComparison.Ordinal);
        Assert.False(await w.Store.ExistsAsync(DerivedDatasets.TitleStats, v1.Version));
        Assert.Equal(DerivedVersionStatus.Removed, (await w.Registry.GetAsync(DerivedDatasets.TitleStats, v1.Version))!.Status);
        foreach (var kept in new[] { v2, v3, v4 })
        {
            Assert.True(await w.Store.ExistsAsync(DerivedDatasets.TitleStats, kept.Version), kept.Version);
            Assert.Equal(DerivedVersionStatus.Published, (await w.Registry.GetAsync(DerivedDatasets.TitleStats, kept.Version))!.Status);
        }

        Assert.Equal(v4.Version, (await w.Registry.CurrentAsync(DerivedDatasets.TitleStats))!.Version);

        // The removed version's interval is still history: the version current then is answerable.
        var versions = await w.Registry.ListAsync(DerivedDatasets.TitleStats);
        Assert.Equal(v1.Version, DerivedVersion.CurrentAt(versions, v1.PublishedAt!.Value)!.Version);
    }

    [Fact]
    public async Task A_version_the_live_or_rollback_model_names_is_kept_and_removed_once_neither_names_it()
    {
        using var w = new PrecomputeWorld(azurite);
        var v1 = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(100));
        w.Clock.Advance(TimeSpan.FromDays(1));
        var v2 = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(101));
        w.Clock.Advance(TimeSpan.FromDays(30));
        async Task<string> PublishModelAsync(string suffix, string? over, params string[] dependsOn)
        {
            var version = await RegisterModelAsync(w, suffix, dependsOn);
            await w.Models.SetStatusAsync(version, ModelStatus.Approved);
            await w.Models.PublishAsync(version, over);
            return version;
        }

        var a = await PublishModelAsync("a", null, v1.Dependency);
        var live = await Cleanup(w).RunAsync();
        Assert.Empty(live.Removed);
        Assert.Equal(DerivedDataCleanup.KeptReferenced + $" ({a})", live.Kept[v1.Dependency]);
        Assert.False(live.Kept.ContainsKey(v2.Dependency)); // the current version is never eligible

        // B replaces A: A is the rollback target, so v1 stays.
        var b = await PublishModelAsync("b", a);
        var previous = await Cleanup(w).RunAsync();
        Assert.Empty(previous.Removed);
        Assert.Contains(a, previous.Kept[v1.Dependency], StringComparison.Ordinal);

        // C replaces B: A is retired, nothing live, previous or waiting names v1 any more.
        await PublishModelAsync("c", b);
        var retired = await Cleanup(w).RunAsync();
        Assert.Equal([v1.Dependency], retired.Removed);
        Assert.False(await w.Store.ExistsAsync(DerivedDatasets.TitleStats, v1.Version));
        Assert.True(await w.Store.ExistsAsync(DerivedDatasets.TitleStats, v2.Version));
        Assert.Equal(v2.Version, (await w.Registry.CurrentAsync(DerivedDatasets.TitleStats))!.Version);
    }
}
