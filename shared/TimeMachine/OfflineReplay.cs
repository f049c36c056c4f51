using Serverless.Archive;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Models;
using Serverless.Ranking;

namespace Serverless.TimeMachine;

/// <summary>A ranker to replay: a model (scored with serving's code), or the Substitute when <paramref name="Model"/> is null.</summary>
public sealed record ReplayRanker(string Name, ModelScorer? Model);

/// <summary>One ranker's quality on the members who liked something after the split.</summary>
/// <param name="NdcgAt10">Mean NDCG@10, binary relevance (liked after the split); the ideal counts every liked title, in the pool or not.</param>
/// <param name="HitRateAt10">Share of members with a liked title in their top 10.</param>
/// <param name="Auc">Over the pool's titles the members rated after the split: liked against not liked, all members pooled.</param>
public sealed record ReplayQuality(string Ranker, double NdcgAt10, double HitRateAt10, double Auc, int Members);

/// <summary>The offline replay's answer: each ranker on the same members, candidates and split.</summary>
public sealed record OfflineReplayResult(DateTimeOffset SplitAt, int Members, int LikedAfter, int LikedInPool, IReadOnlyList<ReplayQuality> Rankers)
{
    public string Table()
    {
        var rows = Rankers.Select(r => $"| {r.Ranker} | {r.NdcgAt10:F4} | {r.HitRateAt10:F4} | {r.Auc:F4} | {r.Members} |");
        return "| ranker | NDCG@10 | hit rate@10 | AUC | members |\n|---|---|---|---|---|\n" + string.Join('\n', rows);
    }
}

/// <summary>
/// The Time Machine's offline replay of the application: for each member, what serving would have
/// answered at the split time T (the member's history known at T, the model's data, the default
/// candidate pool, the same encoder, scorer and ordering code as <see cref="RankService"/>), for
/// several rankers side by side, scored against what the member rated after T (a global time split).
/// Nothing after T reaches a ranker: histories and the serving data are cut at T.
/// </summary>
public static class OfflineReplay
{
    public const int K = 10;

    /// <param name="known">Facts known at <paramref name="splitAt"/> (e.g. the model's fact snapshot): histories come from here.</param>
    /// <param name="after">Ratings that happened and arrived after <paramref name="splitAt"/>: the ground truth.</param>
    /// <param name="data">The serving data as of the split (catalog, title statistics, popular titles).</param>
    public static OfflineReplayResult Run(IReadOnlyList<Fact> known, IEnumerable<Fact> after, DateTimeOffset splitAt, FeatureEncoder encoder, ServingData data,
        IReadOnlyList<ReplayRanker> rankers, int? maxMembers = null)
    {
        ArgumentNullException.ThrowIfNull(known);
        ArgumentNullException.ThrowIfNull(after);
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(rankers);
        if (data.Watermark > splitAt)
        {
            throw new ArgumentException($"the serving data's watermark {data.Watermark:O} is after the split {splitAt:O}: the replay would see the future", nameof(data));
        }

        var like = encoder.Config.LikeThreshold;
        var truth = after
            .Where(f => f.Kind == FactKind.Rating && f.EventTime > splitAt && f.IngestTime > splitAt && f.Member is not null && f.Title is not null && f.Value is not null)
            .GroupBy(f => f.Member!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.GroupBy(f => f.Title!, StringComparer.Ordinal).ToDictionary(t => t.Key, t => t.OrderBy(f => f.EventTime).Last().Value!.Value >= like, StringComparer.Ordinal), StringComparer.Ordinal);
        var histories = known
            .Where(f => f.Kind == FactKind.Rating && f.Member is not null)
            .GroupBy(f => f.Member!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => HistoryAt(g, splitAt, encoder), StringComparer.Ordinal);

        // The contexts: members known at T who liked something after it, in a stable order.
        var members = truth.Where(t => t.Value.Values.Any(l => l) && histories.ContainsKey(t.Key)).Select(t => t.Key)
            .Order(StringComparer.Ordinal).Take(maxMembers ?? int.MaxValue).ToList();

        var sums = rankers.Select(_ => (Ndcg: 0.0, Hits: 0)).ToArray();
        var pairs = rankers.Select(_ => new List<(float Score, bool Liked)>()).ToArray();
        int likedAfter = 0, likedInPool = 0;
        var width = encoder.Count;
        foreach (var member in members)
        {
            var history = histories[member];
            var rated = truth[member];
            var candidates = RankService.DefaultCandidates(data, history);
            likedAfter += rated.Count(r => r.Value);
            likedInPool += candidates.Count(c => rated.GetValueOrDefault(c));
            var profile = RankService.ProfileOf(encoder, member, history, splitAt, data);
            var rows = new float[candidates.Length * width];
            for (var r = 0; r < rankers.Count; r++)
            {
                var (ranked, scores) = Rank(rankers[r], encoder, profile, candidates, rows, data);
                sums[r].Ndcg += Ndcg(ranked, rated);
                sums[r].Hits += ranked.Take(K).Any(t => rated.GetValueOrDefault(t)) ? 1 : 0;
                for (var i = 0; i < candidates.Length; i++)
                {
                    if (rated.TryGetValue(candidates[i], out var liked))
                    {
                        pairs[r].Add((scores[i], liked));
                    }
                }
            }
        }

        var qualities = rankers.Select((ranker, r) => new ReplayQuality(
            ranker.Name,
            members.Count == 0 ? 0 : sums[r].Ndcg / members.Count,
            members.Count == 0 ? 0 : (double)sums[r].Hits / members.Count,
            Auc(pairs[r]),
            members.Count)).ToList();
        return new OfflineReplayResult(splitAt, members.Count, likedAfter, likedInPool, qualities);
    }

    /// <summary>
    /// What the ranker answers for one member at <paramref name="splitAt"/> from the facts known
    /// then: the default candidate pool in the ranker's order (serving's answer, all positions).
    /// </summary>
    public static string[] Answer(ReplayRanker ranker, FeatureEncoder encoder, string member, IEnumerable<Fact> known, DateTimeOffset splitAt, ServingData data)
    {
        ArgumentNullException.ThrowIfNull(ranker);
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(data);
        var history = HistoryAt(known.Where(f => f.Kind == FactKind.Rating && f.Member == member), splitAt, encoder);
        var candidates = RankService.DefaultCandidates(data, history);
        var profile = RankService.ProfileOf(encoder, member, history, splitAt, data);
        return Rank(ranker, encoder, profile, candidates, new float[candidates.Length * encoder.Count], data).Ranked;
    }

    /// <summary>A member's ratings as the live interface answers as of T: ingested by T, newest first, up to the history limit.</summary>
    private static List<ArchivedFact> HistoryAt(IEnumerable<Fact> ratings, DateTimeOffset splitAt, FeatureEncoder encoder) =>
        ratings.Where(f => f.IngestTime <= splitAt)
            .OrderByDescending(f => f.EventTime).ThenBy(f => f.Id, StringComparer.Ordinal).Take(encoder.Config.HistoryLimit)
            .Select(f => new ArchivedFact(f, null, null)).ToList();

    /// <summary>The ranker's order of the candidates and its score for each candidate (by candidate index).</summary>
    private static (string[] Ranked, float[] Scores) Rank(ReplayRanker ranker, FeatureEncoder encoder, MemberProfile profile, string[] candidates, float[] rows, ServingData data)
    {
        var scores = new float[candidates.Length];
        if (ranker.Model is null)
        {
            var popularity = RankService.ByPopularity(candidates, data).ToList();
            var byTitle = popularity.ToDictionary(p => p.Title, p => p.Popularity, StringComparer.Ordinal);
            for (var i = 0; i < candidates.Length; i++)
            {
                scores[i] = byTitle[candidates[i]];
            }

            return (popularity.Select(p => p.Title).ToArray(), scores);
        }

        RankService.Score(encoder, ranker.Model, profile, candidates, rows, scores);
        var order = new int[candidates.Length];
        RankService.OrderBestFirst(order, scores, candidates);
        return (order.Select(i => candidates[i]).ToArray(), scores);
    }

    private static double Ndcg(string[] ranked, Dictionary<string, bool> rated)
    {
        var dcg = 0.0;
        for (var i = 0; i < Math.Min(K, ranked.Length); i++)
        {
            if (rated.GetValueOrDefault(ranked[i]))
            {
                dcg += 1 / Math.Log2(i + 2);
            }
        }

        var ideal = 0.0;
        for (var i = 0; i < Math.Min(K, rated.Count(r => r.Value)); i++)
        {
            ideal += 1 / Math.Log2(i + 2);
        }

        return ideal == 0 ? 0 : dcg / ideal;
    }

    /// <summary>Rank-sum AUC (ties count half); NaN when one class is missing: the Sentinel's AUC, over one request.</summary>
    public static double Auc(IReadOnlyList<(float Score, bool Liked)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var data = new Sentinel.ShadowData(pairs.Select(_ => Array.Empty<float>()).ToList(), pairs.Select(p => p.Liked).ToList(), pairs.Select(_ => "").ToList());
        return new Sentinel.ShadowMetrics(data, pairs.Select(p => p.Score).ToArray()).Auc();
    }
}
