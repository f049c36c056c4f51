using System.Diagnostics;
using Serverless.Facts;
using Serverless.Ranking;

namespace Serverless.LocalHost.Replay;

/// <summary>
/// Rank requests at sampled moments of the replay, as production traffic would come: before a
/// sampled rating is published, the member asks for a ranking (as of that moment) of the titles
/// they will rate in the next 30 days plus popular titles they never rate. Their later ratings
/// become the labels of the logged impressions. <paramref name="waitForArchive"/> returns once the
/// archive has ingested everything published so far for a member, so a request sees the history before it.
/// One seeded random sequence decides which ratings are sampled and draws the candidates, in the
/// same order every run.
/// </summary>
public sealed class ReplayTraffic(
    IReadOnlyList<FactEnvelope> facts,
    Func<RankRequest, CancellationToken, Task<RankResponse>> rank,
    Func<string, CancellationToken, Task> waitForArchive,
    double rate,
    int seed = 11) : IReplayHook
{
    private readonly Random random = new(seed);
    private readonly Dictionary<string, List<FactEnvelope>> byMember = facts
        .Where(f => f.Kind == "rating").GroupBy(f => f.Member!).ToDictionary(g => g.Key, g => g.ToList());
    private readonly string[] titles = facts.Where(f => f.Kind == "catalog").Select(f => f.Title!).ToArray();

    public int Requests { get; private set; }
    public int Fallbacks { get; private set; }
    public int Logged { get; private set; }

    /// <summary>Wall time spent waiting for the archive to ingest what came before the requests.</summary>
    public TimeSpan Waiting { get; private set; }

    /// <summary>Wall time spent in the rank requests themselves.</summary>
    public TimeSpan Ranking { get; private set; }

    public bool Wants(FactEnvelope fact) => fact.Kind == "rating" && random.NextDouble() < rate;

    public async Task BeforeAsync(FactEnvelope fact, CancellationToken cancellationToken)
    {
        // Serve what the archive knows now: wait until everything published so far for the member is ingested.
        var started = Stopwatch.GetTimestamp();
        await waitForArchive(fact.Member!, cancellationToken);
        Waiting += Stopwatch.GetElapsedTime(started);
        var at = fact.EventTime!.Value;
        var member = fact.Member!;
        var future = byMember[member].Where(f => f.EventTime >= at && f.EventTime <= at.AddDays(30)).Select(f => f.Title!).Distinct().Take(10).ToList();
        var rated = byMember[member].Select(f => f.Title!).ToHashSet(StringComparer.Ordinal);
        var candidates = future.Concat(Enumerable.Range(0, 40).Select(_ => titles[random.Next(titles.Length)]).Where(t => !rated.Contains(t))).Distinct().Take(30).ToArray();
        started = Stopwatch.GetTimestamp();
        var response = await rank(new RankRequest(member, candidates, 10, null), cancellationToken);
        Ranking += Stopwatch.GetElapsedTime(started);
        Requests++;
        if (response.Fallback) { Fallbacks++; }
        if (response.Logged) { Logged++; }
    }
}
