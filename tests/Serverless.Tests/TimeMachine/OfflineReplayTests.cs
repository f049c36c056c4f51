using Serverless.Facts;
using Serverless.Features;
using Serverless.Ranking;
using Serverless.TimeMachine;

namespace Serverless.Tests.TimeMachine;

public sealed class OfflineReplayTests
{
    private static readonly DateTimeOffset Split = new(2020, 6, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly FeatureEncoder Encoder = new(FeatureConfig.Default);

    private static Fact Rating(string member, string title, double value, DateTimeOffset at) =>
        new($"{member}-{title}-{at.UtcTicks}", FactKind.Rating, member, title, value, at, at);

    /// <summary>Titles "t00".."t19": t00 most rated before the split (no ties), t19 least; member mN rated t(19-N).</summary>
    private static List<Fact> Known()
    {
        var facts = new List<Fact>();
        for (var t = 0; t < 20; t++)
        {
            for (var n = 0; n < 2 * (20 - t); n++)
            {
                facts.Add(Rating($"fan{n}", T(t), 4, Split.AddDays(-30 + t)));
            }
        }

        for (var m = 0; m < 10; m++)
        {
            facts.Add(Rating($"m{m}", T(19 - m), 5, Split.AddDays(-10)));
        }

        return facts;
    }

    private static string T(int title) => $"t{title:D2}";

    private static ServingData Data(List<Fact> known) => ServingData.Build(known, Split, Encoder.Config, "test");

    [Fact]
    public void The_Substitute_scores_by_the_metrics_definitions()
    {
        var known = Known();

        // Every member likes the most popular title (none of them rated it): the Substitute's first answer.
        var after = Enumerable.Range(0, 10).Select(m => Rating($"m{m}", T(0), 5, Split.AddDays(1))).ToList();
        var result = OfflineReplay.Run(known, after, Split, Encoder, Data(known), [new ReplayRanker("popularity", null)]);
        var popularity = Assert.Single(result.Rankers);
        Assert.Equal(10, result.Members);
        Assert.Equal(1.0, popularity.NdcgAt10, 9);
        Assert.Equal(1.0, popularity.HitRateAt10, 9);

        // Now each liked title is the 11th most popular candidate: out of the top 10, so no hit and NDCG 0.
        after = Enumerable.Range(0, 10).Select(m => Rating($"m{m}", m == 9 ? T(11) : T(10), 5, Split.AddDays(1))).ToList();
        popularity = OfflineReplay.Run(known, after, Split, Encoder, Data(known), [new ReplayRanker("popularity", null)]).Rankers[0];
        Assert.Equal(0.0, popularity.HitRateAt10, 9);
        Assert.Equal(0.0, popularity.NdcgAt10, 9);

        // Liked at position 2 (t01; t00 first) for every member: NDCG = 1/log2(3).
        after = Enumerable.Range(0, 10).Select(m => Rating($"m{m}", T(1), 5, Split.AddDays(1))).ToList();
        popularity = OfflineReplay.Run(known, after, Split, Encoder, Data(known), [new ReplayRanker("popularity", null)]).Rankers[0];
        Assert.Equal(1 / Math.Log2(3), popularity.NdcgAt10, 9);
    }

    [Fact]
    public void Nothing_after_the_split_reaches_a_ranker()
    {
        var known = Known();
        var after = Enumerable.Range(0, 10).Select(m => Rating($"m{m}", T(3), 5, Split.AddDays(2))).ToList();
        var before = OfflineReplay.Run(known, after, Split, Encoder, Data(known), [new ReplayRanker("popularity", null)]);

        // Facts that arrived after the split, handed in as "known" by mistake, change nothing.
        var leaky = known.Concat(after).Concat(Enumerable.Range(0, 50).Select(n => Rating($"late{n}", T(19), 5, Split.AddDays(1)))).ToList();
        var again = OfflineReplay.Run(leaky, after, Split, Encoder, Data(known), [new ReplayRanker("popularity", null)]);
        Assert.Equal((before.Members, before.LikedAfter, before.LikedInPool), (again.Members, again.LikedAfter, again.LikedInPool));
        Assert.Equal(before.Rankers, again.Rankers);
        Assert.True(before.Rankers[0].HitRateAt10 > 0);

        // Serving data from after the split is refused.
        var future = ServingData.Build(leaky, Split.AddDays(3), Encoder.Config, "future");
        Assert.Throws<ArgumentException>(() => OfflineReplay.Run(known, after, Split, Encoder, future, [new ReplayRanker("popularity", null)]));
    }

    [Theory]
    [InlineData(new[] { 0.9f, 0.1f }, new[] { true, false }, 1.0)]
    [InlineData(new[] { 0.1f, 0.9f }, new[] { true, false }, 0.0)]
    [InlineData(new[] { 0.5f, 0.5f }, new[] { true, false }, 0.5)]
    [InlineData(new[] { 0.8f, 0.6f, 0.7f, 0.1f }, new[] { true, true, false, false }, 0.75)]
    public void Auc_is_the_rank_sum_statistic_with_ties_counting_half(float[] scores, bool[] liked, double expected)
    {
        Assert.Equal(expected, OfflineReplay.Auc(scores.Zip(liked).ToList()), 9);
        Assert.True(double.IsNaN(OfflineReplay.Auc([(0.5f, true)])));
    }
}
