using Serverless.Facts;
using Serverless.Features;

namespace Serverless.Tests.Features;

/// <summary>Nothing that happened after T, or was learned after T, may change a feature value at T.</summary>
public sealed class NoLeakageTests
{
    private static readonly FeatureEncoder Encoder = new(FeatureConfig.Default with { RecentLikes = 3 });

    private static readonly string[] Candidates = ["A", "B", "C", "D", "E", "N", "unknown"];

    private static List<Fact> World()
    {
        var facts = new List<Fact>
        {
            F.Catalog("A", "Action|Comedy", 2000, F.DaysBefore(900)),
            F.Catalog("B", "Drama", 1990, F.DaysBefore(900)),
            F.Catalog("C", "Action|Drama|Thriller", 2015, F.DaysBefore(900)),
            F.Catalog("D", "Comedy|Romance", 2019, F.DaysBefore(300)),
            F.Catalog("E", "Horror", 2018, F.DaysBefore(200), id: "catalog:E"),
        };
        var titles = new[] { "A", "B", "C", "D", "E" };
        for (var i = 0; i < 40; i++)
        {
            var member = i % 4 == 0 ? "m" : "other" + (i % 5);
            facts.Add(F.Rating(member, titles[i % 5], 0.5 + (i * 7 % 10 * 0.5), F.DaysBefore(5 + (i * 13 % 400)), id: $"r{i}"));
        }

        return facts;
    }

    /// <summary>Facts that must not matter at T: they happened after T, or were learned after T.</summary>
    private static List<Fact> Leaks(IReadOnlyList<Fact> world)
    {
        var target = world.First(f => f.Member == "m");
        var afterT = F.T.AddSeconds(1);
        return
        [
            // happened after T (a new title, a repeat of a known one, a member seen only later)
            F.Rating("m", "D", 5.0, afterT, id: "future-m-D"),
            F.Rating("m", "N", 5.0, F.T.AddDays(3), id: "future-m-N"),
            F.Rating("other1", "A", 0.5, afterT, id: "future-other-A"),
            F.Rating("stranger", "E", 5.0, afterT, id: "future-stranger"),
            // happened before T, learned after T (late arrivals)
            F.Rating("m", "E", 5.0, F.DaysBefore(1), ingestTime: afterT, id: "late-m-E"),
            F.Rating("other2", "E", 5.0, F.DaysBefore(100), ingestTime: F.T.AddDays(30), id: "late-other-E"),
            // corrections and retractions learned after T
            F.Rating("m", target.Title!, target.Value == 5.0 ? 0.5 : 5.0, target.EventTime, ingestTime: afterT, id: "late-fix", supersedes: target.Id),
            new Fact("late-retraction", FactKind.Retraction, "other1", null, null, F.DaysBefore(2), afterT, "r1"),
            // catalog: a title that appears after T, a late genre correction of a known title
            F.Catalog("N", "Comedy", 2020, afterT, id: "catalog:N"),
            F.Catalog("E", "Comedy|Action", 2018, F.DaysBefore(200), ingestTime: afterT, id: "late-catalog-E", supersedes: "catalog:E"),
            F.Catalog("A", "Horror", 2000, afterT, id: "catalog:A:v2"),
        ];
    }

    [Fact]
    public void Facts_after_T_in_history_stats_and_catalog_change_no_feature_value()
    {
        var world = World();

        var before = F.Vectors(Encoder, world, "m", F.T, Candidates);
        var after = F.Vectors(Encoder, [.. world, .. Leaks(world)], "m", F.T, Candidates);

        Assert.Equal(F.Bits(before), F.Bits(after));
    }

    [Fact]
    public void Each_leak_alone_changes_nothing_but_would_change_the_features_if_it_were_known()
    {
        var world = World();
        var baseline = F.Bits(F.Vectors(Encoder, world, "m", F.T, Candidates));

        foreach (var leak in Leaks(world))
        {
            Assert.Equal(baseline, F.Bits(F.Vectors(Encoder, [.. world, leak], "m", F.T, Candidates)));

            // The same fact, known a bit before T, does matter: the comparison above can fail.
            var known = leak with { EventTime = Min(leak.EventTime, F.DaysBefore(0.5)), IngestTime = F.DaysBefore(0.5) };
            Assert.True(
                !baseline.SequenceEqual(F.Bits(F.Vectors(Encoder, [.. world, known], "m", F.T, Candidates)), new RowComparer()),
                $"{leak.Id} would not change any feature even if known: the leak test cannot see it");
        }
    }

    [Fact]
    public void Leaks_passed_straight_to_the_encoder_are_dropped_by_the_encoder_itself()
    {
        // Serving reads as of T; a training job could hand the encoder everything. The encoder filters either way.
        var world = World();
        var catalog = Catalog.Build(world, F.T);
        var stats = TitleStatsSnapshot.Build(world, F.T, Encoder.Config);
        var clean = Encoder.Profile(new MemberHistory("m", world.Where(f => f.Member == "m").ToList()), F.T, catalog, stats);
        var leaky = Encoder.Profile(new MemberHistory("m", world.Concat(Leaks(world)).Where(f => f.Member == "m").ToList()), F.T, catalog, stats);

        Assert.Equal(clean.Ratings, leaky.Ratings);
        foreach (var title in Candidates)
        {
            Assert.Equal(Encoder.Encode(clean, title), Encoder.Encode(leaky, title));
        }
    }

    [Fact]
    public void A_catalog_newer_than_T_does_not_reveal_titles_first_seen_after_T()
    {
        var world = World();
        var leaks = Leaks(world);
        var stats = TitleStatsSnapshot.Build(world, F.T, Encoder.Config);
        var history = new MemberHistory("m", world.Where(f => f.Member == "m").ToList());
        var asOfT = Encoder.Profile(history, F.T, Catalog.Build(world, F.T), stats);
        var newer = Encoder.Profile(history, F.T, Catalog.Build([.. world, .. leaks], F.T.AddDays(60)), stats);

        // Only the candidate's own features: the member features read the genres of rated titles from the
        // catalog, so a catalog newer than T with re-genred titles does change them (callers pass Catalog.Build(facts, T)).
        Assert.Equal(Encoder.Encode(asOfT, "N")[6..], Encoder.Encode(newer, "N")[6..]);
        Assert.Equal(Encoder.Encode(asOfT, "unknown")[6..], Encoder.Encode(newer, "N")[6..]);
    }

    [Fact]
    public void Stats_built_at_an_earlier_watermark_ignore_ratings_between_watermark_and_T()
    {
        var world = World();
        var watermark = F.DaysBefore(30);
        var fresh = world.Append(F.Rating("other3", "D", 5.0, F.DaysBefore(10), id: "between")).ToList();

        var a = TitleStatsSnapshot.Build(world, watermark, Encoder.Config);
        var b = TitleStatsSnapshot.Build(fresh, watermark, Encoder.Config);

        Assert.Equal(a.Find("D")!.RatingCount, b.Find("D")!.RatingCount);
        Assert.Equal(a.TotalRatings, b.TotalRatings);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private sealed class RowComparer : IEqualityComparer<int[]>
    {
        public bool Equals(int[]? x, int[]? y) => x!.SequenceEqual(y!);

        public int GetHashCode(int[] obj) => obj.Length;
    }
}
