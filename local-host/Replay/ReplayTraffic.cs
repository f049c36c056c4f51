using Serverless.Facts;
using Serverless.LocalHost.Hub;
using Serverless.Ranking;

namespace Serverless.LocalHost.Replay;

/// <summary>
/// Rank requests at sampled moments of the replay, as production traffic would come: before a
/// sampled rating is published, the member asks for a ranking (as of that moment) of the titles
/// they will rate in the next 30 days plus popular titles they never rate. Their later ratings
/// become the labels of the logged impressions.
/// </summary>
public sealed class ReplayTraffic(IReadOnlyList<FactEnvelope> facts, RankService ranking, LocalEventHub hub, double rate, int seed = 11)
{
    private readonly Random random = new(seed);
    private readonly Dictionary<string, List<FactEnvelope>> byMember = facts
        .Where(f => f.Kind == "rating").GroupBy(f => f.Member!).ToDictionary(g => g.Key, g => g.ToList());
    private readonly string[] titles = facts.Where(f => f.Kind == "catalog").Select(f => f.Title!).ToArray();

    public int Requests { get; private set; }
    public int Fallbacks { get; private set; }
    public int Logged { get; private set; }

    public async Task BeforeAsync(FactEnvelope fact)
    {
        if (fact.Kind != "rating" || random.NextDouble() >= rate)
        {
            return;
        }

        // Serve what the archive knows now: wait until everything published so far is ingested.
        await hub.WaitForIdleAsync(TimeSpan.FromMinutes(1));
        var at = fact.EventTime!.Value;
        var member = fact.Member!;
        var future = byMember[member].Where(f => f.EventTime >= at && f.EventTime <= at.AddDays(30)).Select(f => f.Title!).Distinct().Take(10).ToList();
        var rated = byMember[member].Select(f => f.Title!).ToHashSet(StringComparer.Ordinal);
        var candidates = future.Concat(Enumerable.Range(0, 40).Select(_ => titles[random.Next(titles.Length)]).Where(t => !rated.Contains(t))).Distinct().Take(30).ToArray();
        var response = await ranking.RankAsync(new RankRequest(member, candidates, 10, null));
        Requests++;
        if (response.Fallback) { Fallbacks++; }
        if (response.Logged) { Logged++; }
    }
}
