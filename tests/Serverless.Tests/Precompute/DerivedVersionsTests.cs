using Serverless.Features;
using Serverless.Precompute;
using Serverless.Ranking;
using Serverless.Tests.Fixtures;
using Serverless.Training;
using Microsoft.Extensions.Logging.Abstractions;

namespace Serverless.Tests.Precompute;

/// <summary>Versioned, time-indexed derived data on Azurite: the pointer switch, validity intervals, the lock, and title statistics read alike by serving and training.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class DerivedVersionsTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task Each_version_records_when_it_was_current_and_the_version_current_at_a_time_is_answerable()
    {
        using var w = new PrecomputeWorld(azurite);
        Assert.Null(await w.Registry.CurrentAsync(DerivedDatasets.TitleStats));
        var published1 = w.Clock.GetUtcNow();
        var v1 = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(100));
        w.Clock.Advance(TimeSpan.FromDays(1));
        var published2 = w.Clock.GetUtcNow();
        var v2 = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(200));

        Assert.Equal(v2.Version, (await w.Registry.CurrentAsync(DerivedDatasets.TitleStats))!.Version);
        var versions = await w.Registry.ListAsync(DerivedDatasets.TitleStats);
        var first = versions.Single(v => v.Version == v1.Version);
        Assert.Equal(published1, first.PublishedAt);
        Assert.Equal(published2, first.ReplacedAt);
        Assert.Null(versions.Single(v => v.Version == v2.Version).ReplacedAt);
        Assert.Null(DerivedVersion.CurrentAt(versions, published1.AddTicks(-1)));
        Assert.Equal(v1.Version, DerivedVersion.CurrentAt(versions, published1)!.Version);
        Assert.Equal(v1.Version, DerivedVersion.CurrentAt(versions, published2.AddTicks(-1))!.Version);
        Assert.Equal(v2.Version, DerivedVersion.CurrentAt(versions, published2)!.Version);
        Assert.Equal(v2.Version, DerivedVersion.CurrentAt(versions, published2.AddYears(5))!.Version);
        Assert.True(first.Counts["keys"] > 0);
    }

    [Fact]
    public async Task A_second_precompute_is_refused_while_the_first_holds_the_lock_and_only_the_holder_can_publish()
    {
        using var w = new PrecomputeWorld(azurite);
        DerivedVersion Building(string version, string owner) => new(DerivedDatasets.SimilarTitles, version, DerivedVersionStatus.Building, w.At(10), [], "h", 1,
            new Dictionary<string, long>(), default, null, null, owner, null);
        await w.Registry.BeginAsync(Building("v-a", "run-a"), TimeSpan.FromHours(1));
        // The same owner retrying its first activity is fine; another owner is refused with 409.
        await w.Registry.BeginAsync(Building("v-a", "run-a"), TimeSpan.FromHours(1));
        var refused = await Assert.ThrowsAsync<PrecomputeRefusedException>(() => w.Registry.BeginAsync(Building("v-b", "run-b"), TimeSpan.FromHours(1)));
        Assert.Equal(409, refused.Status);
        Assert.Contains("run-a", refused.Message, StringComparison.Ordinal);
        Assert.Equal("run-a", await w.Registry.LockHolderAsync(DerivedDatasets.SimilarTitles));

        var notHolder = await Assert.ThrowsAsync<PrecomputeRefusedException>(() => w.Registry.PublishAsync(DerivedDatasets.SimilarTitles, "v-a", "run-b", new Dictionary<string, long>()));
        Assert.Equal(409, notHolder.Status);
        Assert.Null(await w.Registry.CurrentAsync(DerivedDatasets.SimilarTitles));

        await w.Registry.PublishAsync(DerivedDatasets.SimilarTitles, "v-a", "run-a", new Dictionary<string, long> { ["keys"] = 1 });
        Assert.Null(await w.Registry.LockHolderAsync(DerivedDatasets.SimilarTitles));
        Assert.Equal("v-a", (await w.Registry.CurrentAsync(DerivedDatasets.SimilarTitles))!.Version);

        // An expired lock (a crashed run) no longer blocks the next precompute.
        await w.Registry.BeginAsync(Building("v-c", "run-c"), TimeSpan.FromMinutes(5));
        w.Clock.Advance(TimeSpan.FromMinutes(6));
        await w.Registry.BeginAsync(Building("v-d", "run-d"), TimeSpan.FromHours(1));
        Assert.Equal("run-d", await w.Registry.LockHolderAsync(DerivedDatasets.SimilarTitles));
    }

    [Fact]
    public async Task Unknown_datasets_and_malformed_versions_are_refused_before_storage()
    {
        using var w = new PrecomputeWorld(azurite);
        Assert.Equal(400, (await Assert.ThrowsAsync<PrecomputeRefusedException>(() => w.Registry.CurrentAsync("x' or '1' eq '1"))).Status);
        Assert.Null(await w.Registry.GetAsync(DerivedDatasets.TitleStats, "../etc"));
        Assert.True(DerivedDatasets.TryParseDependency("derived/title-stats:20190101000000-ab12cd34", out var dataset, out var version));
        Assert.Equal((DerivedDatasets.TitleStats, "20190101000000-ab12cd34"), (dataset, version));
        Assert.False(DerivedDatasets.TryParseDependency("snapshot:facts-1.jsonl.gz", out _, out _));
        Assert.False(DerivedDatasets.TryParseDependency("derived/nope:v1", out _, out _));
    }

    [Fact]
    public async Task The_title_stats_versions_serving_read_at_given_request_times_are_those_current_then_and_removed_ones_are_told_apart()
    {
        // What a candidate trained on logged features names as its derived-data dependencies.
        using var w = new PrecomputeWorld(azurite);
        w.Clock.AdjustTime(w.At(310));
        var v1 = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(300));
        w.Clock.AdjustTime(w.At(320));
        var v2 = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(318));
        w.Clock.AdjustTime(w.At(330));
        await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(329));
        DateTimeOffset[] requests = [w.At(305), w.At(312), w.At(315), w.At(325), w.At(325)];

        var served = await w.Versions.ServedAtAsync(requests);

        // Day 305: no version yet (the model's snapshot statistics served it); the third version served no request.
        Assert.Equal([v1.Dependency, v2.Dependency], served.Available.Select(v => v.Dependency));
        Assert.Empty(served.Gone);

        // Removed by cleanup since: it served requests, but nothing can load it any more.
        await w.Store.DeleteVersionAsync(DerivedDatasets.TitleStats, v1.Version);
        await w.Registry.MarkRemovedAsync(DerivedDatasets.TitleStats, v1.Version);
        served = await w.Versions.ServedAtAsync(requests);
        Assert.Equal([v2.Version], served.Available.Select(v => v.Version));
        Assert.Equal([v1.Version], served.Gone.Select(v => v.Version));
    }

    [Fact]
    public async Task Title_statistics_read_back_from_a_version_equal_those_built_from_the_facts()
    {
        using var w = new PrecomputeWorld(azurite);
        var asOf = w.At(250);
        var version = await w.PublishDirectAsync(DerivedDatasets.TitleStats, asOf);
        var loaded = await w.Versions.LoadAsync(version);
        var built = TitleStatsSnapshot.Build(w.Facts, asOf, w.Encoder.Config);

        Assert.Equal(built.Watermark, loaded.Watermark);
        Assert.Equal(built.ConfigHash, loaded.ConfigHash);
        Assert.Equal(built.TotalRatings, loaded.TotalRatings);
        Assert.Equal(built.GlobalMeanRating, loaded.GlobalMeanRating);
        Assert.Equal(built.Titles.Keys.Order(), loaded.Titles.Keys.Order());
        foreach (var (title, stats) in built.Titles)
        {
            var other = loaded.Find(title)!;
            Assert.Equal((stats.RatingCount, stats.RatingSum, stats.LikeCount, stats.RecentCount, stats.LastRatedAt),
                (other.RatingCount, other.RatingSum, other.LikeCount, other.RecentCount, other.LastRatedAt));
        }
    }

    [Fact]
    public async Task A_training_row_and_a_served_vector_agree_on_title_statistics_for_the_same_moment()
    {
        using var w = new PrecomputeWorld(azurite);
        // A version as of day 300 is published on day 310 (the clock); training cuts at month starts.
        w.Clock.AdjustTime(w.At(310));
        var version = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(300));
        var watermark = w.At(380);
        var options = new TrainingSetOptions { Cutoffs = 3, Horizon = TimeSpan.FromDays(20), ValidationShare = 0.34, NegativesPerExample = 0 };
        var cutoffs = TrainingSetBuilder.Cutoffs(w.Facts.Where(f => f.Kind == Serverless.Facts.FactKind.Rating).ToList(), watermark, options);
        var timeline = await w.Versions.TimelineAsync(cutoffs);
        var set = TrainingSetBuilder.Build(w.Facts, watermark, w.Encoder, options, timeline);

        // Cutoffs before the publication fall back to statistics recomputed at the cutoff; later ones read the version.
        var c = cutoffs[^1];
        Assert.True(c >= w.At(310), $"last cutoff {c:O}");
        Assert.Equal(version.Version, set.TitleStatsVersions![c]);
        Assert.Null(set.TitleStatsVersions[cutoffs[0]]);

        // Serving at the same moment reads the current version: the same statistics object the training row used.
        var serving = new ServingTitleStats(w.Versions, NullLogger<ServingTitleStats>.Instance);
        await serving.RefreshAsync();
        var served = serving.For(c)!;
        Assert.Equal(version.Version, served.Version.Version);

        // A member with a rating after c: the vector serving would make at c is a row of the training set.
        var rating = w.Facts.Where(f => f.Kind == Serverless.Facts.FactKind.Rating && f.EventTime > c && f.EventTime <= c + options.Horizon).OrderBy(f => f.Id, StringComparer.Ordinal).First();
        var history = w.Facts.Where(f => f.Kind == Serverless.Facts.FactKind.Rating && f.Member == rating.Member).OrderBy(f => f.EventTime).ToList();
        var catalog = Catalog.Build(w.Facts, c);
        var servedVector = w.Encoder.Encode(w.Encoder.Profile(new MemberHistory(rating.Member!, history), c, catalog, served.Stats), rating.Title!);
        var recomputedVector = w.Encoder.Encode(w.Encoder.Profile(new MemberHistory(rating.Member!, history), c, catalog, TitleStatsSnapshot.Build(w.Facts, c, w.Encoder.Config)), rating.Title!);
        Assert.Contains(set.Validation.Concat(set.Train), e => e.Features.SequenceEqual(servedVector));
        // The statistics as of the version's T differ from those at c, so this is not a coincidence: before, training used the latter.
        Assert.False(servedVector.SequenceEqual(recomputedVector));
        Assert.DoesNotContain(set.Validation.Concat(set.Train), e => e.Features.SequenceEqual(recomputedVector));
    }
}
