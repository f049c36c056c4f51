using Serverless.Facts;
using Serverless.Features;

namespace Serverless.Tests.Features;

/// <summary>The encoder on real MovieLens: serving and training reads agree, input order does not matter, values are finite.</summary>
public sealed class MovieLensFeatureTests(MovieLensWorld world) : IClassFixture<MovieLensWorld>
{
    private static readonly FeatureEncoder Encoder = new(FeatureConfig.Default);

    /// <summary>The heaviest raters (414 has 2,698 ratings) and a light one.</summary>
    private static readonly string[] Members = ["414", "599", "474", "1"];

    private List<string> Candidates(TitleStatsSnapshot stats) =>
        stats.Titles.OrderByDescending(kv => kv.Value.RatingCount).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => kv.Key).Take(97).Concat(["no-such-title", "193609", world.Facts[^1].Title!]).ToList();

    [Fact]
    public void Vectors_for_100_candidates_are_finite_and_as_long_as_the_names()
    {
        var t = world.Watermark;
        var catalog = Catalog.Build(world.Facts, t);
        var stats = TitleStatsSnapshot.Build(world.Ratings, t, Encoder.Config);
        var candidates = Candidates(stats);
        Assert.Equal(100, candidates.Count);
        Assert.True(stats.TotalRatings > 70_000);

        foreach (var member in Members)
        {
            var profile = Encoder.Profile(new MemberHistory(member, world.ByMember[member]), t, catalog, stats);
            foreach (var title in candidates)
            {
                var v = Encoder.Encode(profile, title);
                Assert.Equal(Encoder.Names.Count, v.Length);
                Assert.All(v, x => Assert.True(float.IsFinite(x), $"member {member}, title {title}: {x}"));
            }
        }

        Assert.True(Encoder.Count >= 14);
    }

    [Fact]
    public void Full_history_and_the_archive_limited_read_give_identical_vectors()
    {
        var t = world.Watermark;
        var catalog = Catalog.Build(world.Facts, t);
        var stats = TitleStatsSnapshot.Build(world.Ratings, t, Encoder.Config);
        var candidates = Candidates(stats);

        foreach (var member in Members)
        {
            var full = world.ByMember[member];
            var served = F.ArchiveRead(full, t, Encoder.Config.HistoryLimit);
            var training = Encoder.Profile(new MemberHistory(member, full), t, catalog, stats);
            var serving = Encoder.Profile(new MemberHistory(member, served), t, catalog, stats);

            Assert.Equal(served, training.Ratings);
            foreach (var title in candidates)
            {
                Assert.Equal(Encoder.Encode(training, title), Encoder.Encode(serving, title));
            }
        }
    }

    [Fact]
    public void The_history_limit_matters_so_the_truncation_test_above_is_not_vacuous()
    {
        var t = world.Watermark;
        var catalog = Catalog.Build(world.Facts, t);
        var small = new FeatureEncoder(FeatureConfig.Default with { HistoryLimit = 50 });
        var stats = TitleStatsSnapshot.Build(world.Ratings, t, Encoder.Config);
        var smallStats = TitleStatsSnapshot.Build(world.Ratings, t, small.Config);
        var history = new MemberHistory("414", world.ByMember["414"]);

        var a = Encoder.Encode(Encoder.Profile(history, t, catalog, stats), "318");
        var b = small.Encode(small.Profile(history, t, catalog, smallStats), "318");

        Assert.NotEqual(a, b);
        Assert.True(world.ByMember["414"].Count(f => f.EventTime <= t) > Encoder.Config.HistoryLimit);
    }

    [Fact]
    public void Shuffled_input_gives_bit_identical_vectors()
    {
        var t = world.Watermark;
        var random = new Random(20160623);
        var shuffledFacts = world.Facts.OrderBy(_ => random.Next()).ToList();
        var catalog = Catalog.Build(world.Facts, t);
        var shuffledCatalog = Catalog.Build(shuffledFacts, t);
        var stats = TitleStatsSnapshot.Build(world.Ratings, t, Encoder.Config);
        var shuffledStats = TitleStatsSnapshot.Build(shuffledFacts, t, Encoder.Config);
        var candidates = Candidates(stats);

        Assert.Equal(stats.GlobalMeanRating, shuffledStats.GlobalMeanRating);
        foreach (var member in Members)
        {
            var history = world.ByMember[member];
            var shuffledHistory = history.OrderBy(_ => random.Next()).ToList();
            var a = Encoder.Profile(new MemberHistory(member, history), t, catalog, stats);
            var b = Encoder.Profile(new MemberHistory(member, shuffledHistory), t, shuffledCatalog, shuffledStats);
            var expected = F.Bits(candidates.Select(c => Encoder.Encode(a, c)).ToArray());
            var actual = F.Bits(candidates.Select(c => Encoder.Encode(b, c)).ToArray());

            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void Ties_in_event_time_are_cut_by_id_as_the_archive_orders_them()
    {
        // Same-second ratings straddling the limit: the encoder must keep exactly the ones the archive read returns.
        var t = F.T;
        var facts = new List<Fact> { F.Catalog("A", "Drama", 2000, F.DaysBefore(900)), F.Catalog("B", "Comedy", 2000, F.DaysBefore(900)) };
        for (var i = 0; i < 30; i++)
        {
            facts.Add(F.Rating("m", i % 2 == 0 ? "A" : "B", i % 3 == 0 ? 5.0 : 2.0, F.DaysBefore(i / 10), id: $"r{i:D2}"));
        }

        var encoder = new FeatureEncoder(FeatureConfig.Default with { HistoryLimit = 15 });
        var stats = TitleStatsSnapshot.Build(facts, t, encoder.Config);
        var catalog = Catalog.Build(facts, t);
        var served = F.ArchiveRead(facts.Where(f => f.Member == "m"), t, 15);
        var full = encoder.Profile(new MemberHistory("m", facts.Where(f => f.Member == "m").Reverse().ToList()), t, catalog, stats);
        var limited = encoder.Profile(new MemberHistory("m", served), t, catalog, stats);

        Assert.Equal(served, full.Ratings);
        Assert.Equal(encoder.Encode(full, "A"), encoder.Encode(limited, "A"));
        Assert.Equal(encoder.Encode(full, "B"), encoder.Encode(limited, "B"));
    }

    [Fact]
    public void Encoding_a_candidate_allocates_nothing()
    {
        var t = world.Watermark;
        var catalog = Catalog.Build(world.Facts, t);
        var stats = TitleStatsSnapshot.Build(world.Ratings, t, Encoder.Config);
        var candidates = Candidates(stats).ToArray();
        var profile = Encoder.Profile(new MemberHistory("414", world.ByMember["414"]), t, catalog, stats);
        var buffer = new float[Encoder.Count * candidates.Length];
        EncodeAll(profile, candidates, buffer); // warm up (JIT, tiering)

        var before = GC.GetAllocatedBytesForCurrentThread();
        EncodeAll(profile, candidates, buffer);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    private static void EncodeAll(MemberProfile profile, string[] candidates, float[] buffer)
    {
        for (var i = 0; i < candidates.Length; i++)
        {
            Encoder.Encode(profile, candidates[i], buffer.AsSpan(i * Encoder.Count, Encoder.Count));
        }
    }
}
