using Serverless.Facts;
using Serverless.Features;
using Serverless.Lumberjack;
using Serverless.Tests.Features;
using Serverless.TimeMachine;
using Serverless.Training;

namespace Serverless.Tests.TimeMachine;

/// <summary>
/// Training sets from the sources behind <see cref="ITrainingSetSource"/> that need no storage:
/// time travel over facts, and logged features + labels. Each records its lineage and carries its
/// leakage scan; a leaky set is refused. (The context-snapshot source: <see cref="ContextSnapshotTests"/>.)
/// </summary>
public sealed class TrainingSetSourcesTests
{
    private static readonly DateTimeOffset Origin = new(2019, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly string[] Genres = ["Drama", "Comedy", "Horror", "Action"];

    /// <summary>30 members rating 40 titles over 380 days; some ratings arrive 20 days late.</summary>
    private static List<Fact> History(int seed = 7)
    {
        var random = new Random(seed);
        var facts = new List<Fact>();
        for (var t = 0; t < 40; t++)
        {
            facts.Add(F.Catalog($"t{t}", Genres[t % Genres.Length], 1990 + t, Origin.AddDays(-30), id: $"catalog:t{t}"));
        }

        for (var m = 0; m < 30; m++)
        {
            for (var i = 0; i < 25; i++)
            {
                var t = random.Next(40);
                var at = Origin.AddDays(random.NextDouble() * 380);
                var ingest = random.NextDouble() < 0.2 ? at.AddDays(20) : at;
                facts.Add(F.Rating($"m{m}", $"t{t}", t % Genres.Length == m % Genres.Length ? 4.5 : 2, at, ingest, id: $"rating:m{m}:t{t}:{i}"));
            }
        }

        return facts;
    }

    private static readonly TrainingSetQuery Query = new(Origin.AddDays(400), new TrainingSetOptions { Cutoffs = 8 });

    [Fact]
    public void Time_travel_records_its_lineage_and_passes_its_leakage_scan()
    {
        var encoder = new FeatureEncoder(FeatureConfig.Default);
        var facts = History();

        var sourced = TimeTravelSource.FromFacts(facts, Query, encoder, null, "archive:asof:test");

        Assert.True(sourced.Set.Train.Count > 100);
        Assert.Equal(TrainingSetSources.TimeTravel, sourced.Lineage.Source);
        Assert.Equal("archive:asof:test", sourced.Lineage.Reference);
        Assert.Equal(encoder.ConfigHash, sourced.Lineage.ConfigHash);
        Assert.Equal((sourced.Set.From, sourced.Set.To), (sourced.Lineage.From, sourced.Lineage.To));
        Assert.Equal((sourced.Set.Train.Count, sourced.Set.Validation.Count), (sourced.Lineage.TrainRows, sourced.Lineage.ValidationRows));
        Assert.Contains("source:time-travel", sourced.Lineage.ToManifestLineage());
        Assert.True(sourced.Leakage.Clean, sourced.Leakage.Summary());
        Assert.Equal(sourced.Set.Train.Count + sourced.Set.Validation.Count, sourced.Leakage.Checked);
    }

    [Fact]
    public void A_set_whose_scan_finds_a_leak_is_refused_naming_the_row()
    {
        var encoder = new FeatureEncoder(FeatureConfig.Default);
        var facts = History();
        var set = TimeTravelSource.FromFacts(facts, Query, encoder, null, "archive").Set;

        // One row's member features computed from everything known at the end (a leak from its future).
        var row = set.Contexts![3];
        var all = facts.Where(f => f.Member == row.Member).ToList();
        var leaked = encoder.Encode(encoder.Profile(new MemberHistory(row.Member, all), Query.Watermark, Catalog.Build(facts, Query.Watermark),
            TitleStatsSnapshot.Build(facts, row.Time, encoder.Config)), row.Title);
        var copy = set with { Train = [.. set.Train.Take(3), set.Train[3] with { Features = leaked }, .. set.Train.Skip(4)] };
        var scan = LeakageScan.Scan(copy, facts, encoder);

        var refused = Assert.Throws<LeakageException>(() => TrainingSetSources.Checked(copy, new TrainingSetLineage(TrainingSetSources.TimeTravel, set.From, set.To, "archive", encoder.ConfigHash, 0, 0), scan));
        Assert.Contains(refused.Report.Violations, v => v.Row == 3 && v.Member == row.Member);
    }

    [Fact]
    public void Logged_features_keep_the_served_values_and_record_the_log_range()
    {
        var encoder = new FeatureEncoder(FeatureConfig.Default);
        var random = new Random(3);
        var impressions = Enumerable.Range(0, 40).Select(i =>
        {
            var features = Enumerable.Range(0, encoder.Count).Select(_ => (float)random.NextDouble()).ToArray();
            var record = new FeatureLogRecord($"log{i / 4}", Origin.AddHours(i), $"m{i % 5}", $"t{i}", i % 4, "v1", encoder.ConfigHash, features, 0.5f, Origin.AddHours(i), false, Origin.AddHours(i - 1));
            return new LoggedImpression(record, i % 3 == 0, $"rating:{i}");
        }).Append(new LoggedImpression(new FeatureLogRecord("other", Origin, "m1", "t1", 0, "v1", "another-config", new float[encoder.Count], 0.5f, Origin, false), true, "x")).ToList();

        var sourced = LoggedFeaturesSource.FromImpressions(impressions, Query, encoder);

        Assert.Equal(40, sourced.Set.Train.Count + sourced.Set.Validation.Count);
        Assert.Equal(impressions[0].Record.Features, sourced.Set.Train[0].Features);
        Assert.Equal(TrainingSetSources.LoggedFeatures, sourced.Lineage.Source);
        Assert.StartsWith($"featurelog:{encoder.ConfigHash}:", sourced.Lineage.Reference, StringComparison.Ordinal);
        Assert.EndsWith(":10 requests", sourced.Lineage.Reference, StringComparison.Ordinal);
        Assert.Equal((Origin, Origin.AddHours(39)), (sourced.Lineage.From, sourced.Lineage.To));
        // The scan ran and says why it could not recompute logged rows (the skew meter guards them).
        Assert.NotNull(sourced.Leakage.Skipped);
        Assert.Contains("skew meter", sourced.Leakage.Summary(), StringComparison.Ordinal);
    }
}
