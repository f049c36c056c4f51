using Serverless.Facts;
using Serverless.Features;

namespace Serverless.Tests.Features;

public sealed class FeatureEncoderTests
{
    private static readonly FeatureEncoder Encoder = new(FeatureConfig.Default);

    /// <summary>
    /// Member m rated A 5.0 two days before T, B 4.0 180 days before T (likes), C 2.0 30 days before T.
    /// Others: x rated D 4.0 (400 days before) and A 5.0 (50 days), y rated D 3.0 (20 days).
    /// All ratings: 5, 4, 2, 4, 5, 3 -> sum 23 over 6, 4 likes.
    /// </summary>
    private static List<Fact> TinyWorld() =>
    [
        F.Catalog("A", "Action|Comedy", 2000, F.DaysBefore(1000)),
        F.Catalog("B", "Drama", 1990, F.DaysBefore(1000)),
        F.Catalog("C", "Action|Drama|Thriller", 2015, F.DaysBefore(1000)),
        F.Catalog("D", "Comedy|Romance", 2019, F.DaysBefore(401)),
        F.Catalog("E", "Documentary|Unheard-Of-Genre", null, F.DaysBefore(10)),
        F.Rating("m", "A", 5.0, F.DaysBefore(2)),
        F.Rating("m", "B", 4.0, F.DaysBefore(180)),
        F.Rating("m", "C", 2.0, F.DaysBefore(30)),
        F.Rating("x", "D", 4.0, F.DaysBefore(400)),
        F.Rating("x", "A", 5.0, F.DaysBefore(50)),
        F.Rating("y", "D", 3.0, F.DaysBefore(20)),
    ];

    private static float[] Vector(IReadOnlyList<Fact> facts, string member, string title, FeatureEncoder? encoder = null) =>
        F.Vectors(encoder ?? Encoder, facts, member, F.T, [title])[0];

    private static void Near(double expected, float actual, string feature) =>
        Assert.True(Math.Abs(expected - actual) < 1e-5, $"{feature}: expected {expected}, got {actual}");

    private static float Get(float[] vector, string name) => vector[FeatureNames.All.ToList().IndexOf(name)];

    [Fact]
    public void Names_are_stable_snake_case_and_match_the_vector_length()
    {
        Assert.Equal(
            [
                "member_rating_count", "member_mean_rating", "member_like_rate", "member_days_since_last_rating", "member_recent_count",
                "member_liked_genre_share", "title_popularity", "title_recent_popularity", "title_mean_rating", "title_like_rate",
                "title_days_since_last_rated", "title_age_years", "title_days_since_first_seen", "title_genre_count", "genre_affinity",
                "genre_match", "similarity_to_recent_likes",
            ],
            Encoder.Names);
        Assert.All(Encoder.Names, n => Assert.Matches("^[a-z]+(_[a-z0-9]+)*$", n));
        Assert.Equal(Encoder.Names.Count, Encoder.Count);
        Assert.True(Encoder.Count >= 14);
        Assert.Equal(FeatureConfig.Default.Hash, Encoder.ConfigHash);
    }

    [Fact]
    public void The_test_hook_moves_one_feature_under_the_same_config_and_hash()
    {
        // The fault the golden probes exist for: the code changed, the config (and its hash) did not.
        var moved = new FeatureEncoder(FeatureConfig.Default, FeatureNames.TitleMeanRating, 0.5f);
        Assert.Equal(Encoder.ConfigHash, moved.ConfigHash);
        Assert.Same(Encoder.Config, moved.Config);
        foreach (var (member, title) in new[] { ("m", "D"), ("x", "E"), ("nobody", "A") })
        {
            var expected = Vector(TinyWorld(), member, title);
            var actual = Vector(TinyWorld(), member, title, moved);
            for (var f = 0; f < expected.Length; f++)
            {
                Assert.Equal(Encoder.Names[f] == FeatureNames.TitleMeanRating ? expected[f] + 0.5f : expected[f], actual[f]);
            }
        }

        Assert.Throws<ArgumentException>(() => new FeatureEncoder(FeatureConfig.Default, "no_such_feature", 1f));
    }

    [Fact]
    public void Member_features_of_a_tiny_example_match_hand_computation()
    {
        var v = Vector(TinyWorld(), "m", "D");
        const double globalMean = 23.0 / 6, globalLikeRate = 4.0 / 6;

        Near(Math.Log(1 + 3), Get(v, FeatureNames.MemberRatingCount), "rating count");
        Near((11 + (10 * globalMean)) / 13, Get(v, FeatureNames.MemberMeanRating), "mean rating");
        Near((2 + (10 * globalLikeRate)) / 13, Get(v, FeatureNames.MemberLikeRate), "like rate");
        Near(Math.Log(1 + 2), Get(v, FeatureNames.MemberDaysSinceLastRating), "days since last");
        Near(Math.Log(1 + 2), Get(v, FeatureNames.MemberRecentCount), "recent count (A and C within 90 days)");
        Near(3.0 / 20, Get(v, FeatureNames.MemberLikedGenreShare), "liked Action, Comedy, Drama");
    }

    [Fact]
    public void Title_and_cross_features_of_a_tiny_example_match_hand_computation()
    {
        var v = Vector(TinyWorld(), "m", "D");
        const double globalMean = 23.0 / 6, globalLikeRate = 4.0 / 6;
        var weightA = Math.Pow(0.5, 2.0 / 180); // like of A (Action, Comedy) 2 days ago
        const double weightB = 0.5;             // like of B (Drama) one half-life ago

        Near(Math.Log(1 + 2), Get(v, FeatureNames.TitlePopularity), "popularity");
        Near(Math.Log(1 + 1), Get(v, FeatureNames.TitleRecentPopularity), "only y's rating is within 365 days");
        Near((7 + (10 * globalMean)) / 12, Get(v, FeatureNames.TitleMeanRating), "title mean");
        Near((1 + (10 * globalLikeRate)) / 12, Get(v, FeatureNames.TitleLikeRate), "title like rate");
        Near(Math.Log(1 + 20), Get(v, FeatureNames.TitleDaysSinceLastRated), "days since last rated");
        Near(2020 - 2019, Get(v, FeatureNames.TitleAgeYears), "age");
        Near(Math.Log(1 + 401), Get(v, FeatureNames.TitleDaysSinceFirstSeen), "first seen");
        Near(2, Get(v, FeatureNames.TitleGenreCount), "Comedy, Romance");
        Near(weightA / (weightA + weightB) / 2, Get(v, FeatureNames.GenreAffinity), "Comedy's share of likes, Romance none, averaged");
        Near(0.5, Get(v, FeatureNames.GenreMatch), "Comedy liked, Romance not");
        Near(1.0 / 3, Get(v, FeatureNames.SimilarityToRecentLikes), "Jaccard with A {Action, Comedy}");
    }

    [Fact]
    public void Cross_features_for_a_title_sharing_several_liked_genres()
    {
        var v = Vector(TinyWorld(), "m", "C");

        Near(1.0 / 3, Get(v, FeatureNames.GenreAffinity), "(share(Action) + share(Drama) + 0) / 3 = 1/3 since A and B carry all like weight");
        Near(2.0 / 3, Get(v, FeatureNames.GenreMatch), "Action and Drama liked");
        Near(1.0 / 3, Get(v, FeatureNames.SimilarityToRecentLikes), "Jaccard with B {Drama} = 1/3 beats A = 1/4");
        Near(3, Get(v, FeatureNames.TitleGenreCount), "three genres");
    }

    [Fact]
    public void Unknown_genres_and_missing_year_fall_back_to_documented_defaults()
    {
        var v = Vector(TinyWorld(), "m", "E");

        Near(1, Get(v, FeatureNames.TitleGenreCount), "only Documentary is a configured genre");
        Near(FeatureEncoder.DefaultTitleAgeYears, Get(v, FeatureNames.TitleAgeYears), "no year");
        Near(Math.Log(1 + 10), Get(v, FeatureNames.TitleDaysSinceFirstSeen), "first seen 10 days ago");
        Near(0, Get(v, FeatureNames.TitlePopularity), "never rated");
        Near(Math.Log(1 + FeatureEncoder.ColdDays), Get(v, FeatureNames.TitleDaysSinceLastRated), "never rated");
    }

    [Fact]
    public void An_unknown_member_gets_the_documented_member_defaults()
    {
        var facts = TinyWorld();
        var v = Vector(facts, "newcomer", "D");
        var withMember = Vector(facts, "m", "D");

        Near(0, Get(v, FeatureNames.MemberRatingCount), "count");
        Near(23.0 / 6, Get(v, FeatureNames.MemberMeanRating), "global mean");
        Near(4.0 / 6, Get(v, FeatureNames.MemberLikeRate), "global like rate");
        Near(Math.Log(1 + FeatureEncoder.ColdDays), Get(v, FeatureNames.MemberDaysSinceLastRating), "cold days");
        Near(0, Get(v, FeatureNames.MemberRecentCount), "recent");
        Near(0, Get(v, FeatureNames.MemberLikedGenreShare), "liked genres");
        Near(0, Get(v, FeatureNames.GenreAffinity), "affinity");
        Near(0, Get(v, FeatureNames.GenreMatch), "match");
        Near(0, Get(v, FeatureNames.SimilarityToRecentLikes), "similarity");
        Assert.Equal(withMember.AsSpan(6, 8).ToArray(), v.AsSpan(6, 8).ToArray()); // title features do not depend on the member
    }

    [Fact]
    public void An_unknown_title_gets_the_documented_title_defaults()
    {
        var v = Vector(TinyWorld(), "m", "no-such-title");

        Near(0, Get(v, FeatureNames.TitlePopularity), "popularity");
        Near(0, Get(v, FeatureNames.TitleRecentPopularity), "recent popularity");
        Near(23.0 / 6, Get(v, FeatureNames.TitleMeanRating), "global mean");
        Near(4.0 / 6, Get(v, FeatureNames.TitleLikeRate), "global like rate");
        Near(Math.Log(1 + FeatureEncoder.ColdDays), Get(v, FeatureNames.TitleDaysSinceLastRated), "cold days");
        Near(FeatureEncoder.DefaultTitleAgeYears, Get(v, FeatureNames.TitleAgeYears), "default age");
        Near(0, Get(v, FeatureNames.TitleDaysSinceFirstSeen), "brand new");
        Near(0, Get(v, FeatureNames.TitleGenreCount), "no genres");
        Near(0, Get(v, FeatureNames.GenreAffinity), "affinity");
        Near(0, Get(v, FeatureNames.GenreMatch), "match");
        Near(0, Get(v, FeatureNames.SimilarityToRecentLikes), "similarity");
    }

    [Fact]
    public void With_nothing_known_at_all_every_value_is_finite_and_a_default()
    {
        var v = Vector([], "newcomer", "no-such-title");

        Assert.All(v, x => Assert.True(float.IsFinite(x)));
        Near(TitleStatsSnapshot.EmptyMeanRating, Get(v, FeatureNames.MemberMeanRating), "empty mean");
        Near(TitleStatsSnapshot.EmptyLikeRate, Get(v, FeatureNames.TitleLikeRate), "empty like rate");
    }

    [Fact]
    public void Zero_prior_count_still_gives_finite_values_for_cold_start()
    {
        var encoder = new FeatureEncoder(FeatureConfig.Default with { PriorCount = 0 });

        var v = Vector(TinyWorld(), "newcomer", "no-such-title", encoder);

        Assert.All(v, x => Assert.True(float.IsFinite(x)));
        Near(23.0 / 6, Get(v, FeatureNames.MemberMeanRating), "falls back to the global mean");
        var known = Vector(TinyWorld(), "m", "D", encoder);
        Near(11.0 / 3, Get(known, FeatureNames.MemberMeanRating), "raw mean without shrinkage");
    }

    [Fact]
    public void A_correction_known_at_T_replaces_the_rating_and_a_retraction_removes_it()
    {
        var facts = TinyWorld();
        var original = facts.Single(f => f.Member == "m" && f.Title == "C");
        var corrected = facts.Append(F.Rating("m", "C", 4.5, original.EventTime, F.DaysBefore(1), id: "fix", supersedes: original.Id)).ToList();
        var replaced = facts.Where(f => f != original).Append(F.Rating("m", "C", 4.5, original.EventTime, id: "fix")).ToList();
        var retracted = facts.Append(F.Retraction("m", original.Id, F.DaysBefore(1))).ToList();
        var removed = facts.Where(f => f != original).ToList();

        Assert.Equal(F.Bits(F.Vectors(Encoder, replaced, "m", F.T, ["A", "C", "D"])), F.Bits(F.Vectors(Encoder, corrected, "m", F.T, ["A", "C", "D"])));
        Assert.Equal(F.Bits(F.Vectors(Encoder, removed, "m", F.T, ["A", "C", "D"])), F.Bits(F.Vectors(Encoder, retracted, "m", F.T, ["A", "C", "D"])));
        Assert.NotEqual(F.Bits(F.Vectors(Encoder, facts, "m", F.T, ["A", "C", "D"])), F.Bits(F.Vectors(Encoder, corrected, "m", F.T, ["A", "C", "D"])));
    }

    [Fact]
    public void A_redelivered_fact_counts_once()
    {
        var facts = TinyWorld();
        var twice = facts.Concat(facts.Where(f => f.Kind == FactKind.Rating)).ToList();

        Assert.Equal(F.Bits(F.Vectors(Encoder, facts, "m", F.T, ["A", "D"])), F.Bits(F.Vectors(Encoder, twice, "m", F.T, ["A", "D"])));
    }

    [Fact]
    public void Stats_from_after_T_or_from_another_config_are_refused()
    {
        var facts = TinyWorld();
        var catalog = Catalog.Build(facts, F.T);
        var history = new MemberHistory("m", facts.Where(f => f.Member == "m").ToList());

        Assert.Throws<ArgumentException>(() => Encoder.Profile(history, F.T, catalog, TitleStatsSnapshot.Build(facts, F.T.AddSeconds(1), Encoder.Config)));
        Assert.Throws<ArgumentException>(() => Encoder.Profile(history, F.T, catalog, TitleStatsSnapshot.Build(facts, F.T, Encoder.Config with { PriorCount = 3 })));
        var other = new FeatureEncoder(Encoder.Config with { Version = 2 });
        var profile = other.Profile(history, F.T, catalog, TitleStatsSnapshot.Build(facts, F.T, other.Config));
        Assert.Throws<ArgumentException>(() => Encoder.Encode(profile, "A"));
        Assert.Throws<ArgumentException>(() => other.Encode(profile, "A", new float[other.Count + 1]));
    }

    [Fact]
    public void A_history_holding_another_members_rating_is_refused()
    {
        var facts = TinyWorld();
        var history = new MemberHistory("m", facts.Where(f => f.Kind == FactKind.Rating).ToList());

        var error = Assert.Throws<ArgumentException>(() =>
            Encoder.Profile(history, F.T, Catalog.Build(facts, F.T), TitleStatsSnapshot.Build(facts, F.T, Encoder.Config)));
        Assert.Contains("not 'm'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Catalog_keeps_the_newest_current_entry_and_the_first_time_the_title_was_seen()
    {
        Fact[] facts =
        [
            F.Catalog("A", "Drama", 2000, F.DaysBefore(100), id: "a1"),
            F.Catalog("A", "Drama|Comedy", 2001, F.DaysBefore(50), id: "a2"),
            F.Catalog("A", "Horror", 2002, F.DaysBefore(40), ingestTime: F.DaysBefore(30), id: "a3", supersedes: "a2"),
            F.Catalog("A", "War", 2003, F.DaysBefore(20), ingestTime: F.T.AddDays(1), id: "late"),
            F.Catalog("B", "War", 2003, F.T.AddDays(1), id: "future"),
        ];

        var catalog = Catalog.Build(facts, F.T);

        var a = catalog.Find("A")!;
        Assert.Equal(["Horror"], a.Genres);
        Assert.Equal(2002, a.Year);
        Assert.Equal(F.DaysBefore(100), a.FirstSeen);
        Assert.Null(catalog.Find("B"));
        Assert.Equal(["Drama"], Catalog.Build(facts, F.DaysBefore(60)).Find("A")!.Genres);
        Assert.Equal(["Drama", "Comedy"], Catalog.Build(facts, F.DaysBefore(35)).Find("A")!.Genres);
        Assert.Null(CatalogEntry.FromFact(F.Rating("m", "A", 4, F.T)));
    }

    [Fact]
    public void Title_stats_count_only_what_is_known_at_the_watermark()
    {
        Fact[] facts =
        [
            F.Rating("m", "A", 4.0, F.DaysBefore(500), id: "old"),
            F.Rating("n", "A", 3.0, F.DaysBefore(10), id: "recent"),
            F.Rating("o", "A", 5.0, F.T.AddDays(1), id: "future"),
            F.Rating("p", "A", 5.0, F.DaysBefore(10), ingestTime: F.T.AddSeconds(1), id: "late"),
            F.Rating("q", "A", 1.0, F.DaysBefore(5), id: "wrong"),
            F.Rating("q", "A", 4.5, F.DaysBefore(5), ingestTime: F.DaysBefore(1), id: "right", supersedes: "wrong"),
        ];

        var stats = TitleStatsSnapshot.Build(facts, F.T, FeatureConfig.Default);

        var a = stats.Find("A")!;
        Assert.Equal(3, a.RatingCount);
        Assert.Equal(11.5, a.RatingSum);
        Assert.Equal(2, a.LikeCount);
        Assert.Equal(2, a.RecentCount);
        Assert.Equal(F.DaysBefore(5), a.LastRatedAt);
        Assert.Equal(3, stats.TotalRatings);
        Assert.Equal(11.5 / 3, stats.GlobalMeanRating, 12);
        Assert.Equal(2.0 / 3, stats.GlobalLikeRate, 12);
        Assert.Equal(F.T, stats.Watermark);
    }
}
