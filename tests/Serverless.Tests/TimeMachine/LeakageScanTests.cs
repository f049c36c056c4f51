using Serverless.Facts;
using Serverless.Features;
using Serverless.Models;
using Serverless.MovieLens;
using Serverless.Tests.Fixtures;
using Serverless.TimeMachine;
using Serverless.Training;

namespace Serverless.Tests.TimeMachine;

/// <summary>The leakage scan passes a set cut by time travel and refuses one that used later data, naming rows and features.</summary>
public sealed class LeakageScanTests
{
    private static readonly FeatureEncoder Encoder = new(FeatureConfig.Default);

    /// <summary>MovieLens ratings (as facts learned when they happened) plus late arrivals and corrections learned after the watermark.</summary>
    private static (List<Fact> Facts, DateTimeOffset Watermark) History()
    {
        var facts = MovieLensFacts.Load(Repo.Path("data", "movielens"), maxRatings: 6_000)
            .Select((e, i) => new Fact(e.Id!, e.Kind == "rating" ? FactKind.Rating : FactKind.Catalog, e.Member, e.Title, e.Value, e.EventTime!.Value, e.EventTime!.Value,
                Attributes: e.Attributes))
            .ToList();
        var watermark = facts.Max(f => f.EventTime);
        var ratings = facts.Where(f => f.Kind == FactKind.Rating).ToList();
        var random = new Random(5);
        for (var i = 0; i < 200; i++)
        {
            var target = ratings[random.Next(ratings.Count)];

            // Learned 40 days late (some after the watermark), and corrected later still.
            facts.Add(target with { Id = $"late{i}", Title = ratings[random.Next(ratings.Count)].Title, IngestTime = target.EventTime.AddDays(40) });
            facts.Add(target with { Id = $"fix{i}", Value = 5.5 - target.Value!.Value, IngestTime = target.EventTime.AddDays(20), Supersedes = target.Id });
        }

        return (facts, watermark);
    }

    [Fact]
    public void A_set_cut_by_time_travel_is_clean_and_a_leaky_one_is_refused_naming_rows_and_features()
    {
        var (facts, watermark) = History();
        var options = new TrainingSetOptions { Cutoffs = 6 };
        var set = TrainingSetBuilder.Build(facts, watermark, Encoder, options);
        var clean = LeakageScan.Scan(set, facts, Encoder);
        Assert.True(clean.Clean, clean.Summary());
        Assert.Equal(set.Train.Count + set.Validation.Count, clean.Checked);
        Assert.True(clean.Checked > 500);

        // A builder bug: some rows' features computed with what was known at the end of their label window.
        var leaky = set with { Train = set.Train.ToList() };
        var rows = new[] { 3, 40, 200 };
        foreach (var row in rows)
        {
            var context = set.Contexts![row];
            var later = context.Time + options.Horizon;
            var stats = TitleStatsSnapshot.Build(facts.Where(f => f.Kind == FactKind.Rating), later, Encoder.Config);
            var profile = Encoder.Profile(new MemberHistory(context.Member, facts.Where(f => f.Member == context.Member && f.Kind == FactKind.Rating).ToList()), later, Catalog.Build(facts, later), stats);
            leaky.Train[row] = leaky.Train[row] with { Features = Encoder.Encode(profile, context.Title) };
        }

        var report = LeakageScan.Scan(leaky, facts, Encoder);
        Assert.False(report.Clean);
        Assert.Equal(rows, report.Violations.Select(v => v.Row));
        Assert.All(report.Violations, v => Assert.Contains(FeatureNames.TitlePopularity, v.Features));
        Assert.Contains("row 3 (member", report.Summary(), StringComparison.Ordinal);
        Assert.Equal(report.Summary(), new LeakageException(report).Message);
    }

    [Fact]
    public void Sets_without_row_contexts_are_reported_as_skipped_not_as_clean_by_accident()
    {
        var set = new TrainingSet([new TrainingExample([1f], true)], [], DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch);
        var report = LeakageScan.Scan(set, [], Encoder);
        Assert.Equal(0, report.Checked);
        Assert.False(report.Clean);
        Assert.NotNull(report.Skipped);
        Assert.StartsWith("leakage scan skipped", report.Summary(), StringComparison.Ordinal);

        var mismatched = set with { Contexts = [] };
        Assert.False(LeakageScan.Scan(mismatched, [], Encoder).Clean);
    }
}
