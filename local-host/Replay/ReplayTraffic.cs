using System.Diagnostics;
using Serverless.Facts;
using Serverless.Ranking;

namespace Serverless.LocalHost.Replay;

/// <summary>
/// Rank requests at sampled moments of the replay, as production traffic would come: just before a
/// sampled rating is published, the member asks for a ranking of the titles they will rate in the
/// next 30 days plus popular titles they never rate. Their later ratings become the labels of the
/// logged impressions. One seeded random sequence decides which ratings are sampled and draws the
/// candidates, in the same order every run.
/// <para>
/// Requests do not hold the replay up: up to <paramref name="maxInFlight"/> are under way while the
/// replay publishes what comes after them, so the replay with traffic runs near the rate of the
/// replay without it. Each request still sees exactly the history before it and nothing after:
/// - it is made as of the clock's time when it is sampled (<see cref="RankRequest.AsOf"/>), and the
///   clock moves one tick past that moment, so everything published afterwards (the sampled rating
///   itself included) was enqueued, hence ingested, strictly after the request's moment and is
///   outside its as-of read;
/// - <paramref name="waitForArchive"/> is called at once, when nothing after the request has been
///   published yet, and must capture then what it waits for: everything published so far with the
///   member's key ingested by the archive. The request reads only once that is done.
/// </para>
/// </summary>
public sealed class ReplayTraffic(
    IReadOnlyList<FactEnvelope> facts,
    ReplayClock clock,
    Func<RankRequest, CancellationToken, Task<RankResponse>> rank,
    Func<string, CancellationToken, Task> waitForArchive,
    double rate,
    int maxInFlight = ReplayTraffic.DefaultMaxInFlight,
    int seed = 11) : IReplayHook
{
    /// <summary>Requests under way at once by default.</summary>
    public const int DefaultMaxInFlight = 8;

    private readonly Random random = new(seed);
    private readonly Dictionary<string, List<FactEnvelope>> byMember = facts
        .Where(f => f.Kind == "rating").GroupBy(f => f.Member!).ToDictionary(g => g.Key, g => g.ToList());
    private readonly string[] titles = facts.Where(f => f.Kind == "catalog").Select(f => f.Title!).ToArray();
    private readonly List<Task> inFlight = [];
    private int requests;
    private int fallbacks;
    private int logged;
    private long waitingTicks;
    private long rankingTicks;

    public int Requests => Volatile.Read(ref requests);

    public int Fallbacks => Volatile.Read(ref fallbacks);

    public int Logged => Volatile.Read(ref logged);

    /// <summary>The most requests under way at once.</summary>
    public int MaxInFlight => maxInFlight;

    /// <summary>Time the requests spent waiting for the archive to ingest what came before them, summed over requests.</summary>
    public TimeSpan Waiting => TimeSpan.FromTicks(Interlocked.Read(ref waitingTicks));

    /// <summary>Time spent in the rank requests themselves, summed over requests.</summary>
    public TimeSpan Ranking => TimeSpan.FromTicks(Interlocked.Read(ref rankingTicks));

    public bool Wants(FactEnvelope fact) => fact.Kind == "rating" && random.NextDouble() < rate;

    public async Task BeforeAsync(FactEnvelope fact, CancellationToken cancellationToken)
    {
        // Drawn now, in replay order: the same candidates every run, however the requests interleave.
        var at = fact.EventTime!.Value;
        var member = fact.Member!;
        var future = byMember[member].Where(f => f.EventTime >= at && f.EventTime <= at.AddDays(30)).Select(f => f.Title!).Distinct().Take(10).ToList();
        var rated = byMember[member].Select(f => f.Title!).ToHashSet(StringComparer.Ordinal);
        var candidates = future.Concat(Enumerable.Range(0, 40).Select(_ => titles[random.Next(titles.Length)]).Where(t => !rated.Contains(t))).Distinct().Take(30).ToArray();

        // The request's moment; whatever is published from here on is strictly later.
        var asOf = clock.GetUtcNow();
        clock.AdvanceTo(asOf.AddTicks(1));
        var ingested = waitForArchive(member, cancellationToken);
        inFlight.Add(RequestAsync(new RankRequest(member, candidates, 10, asOf), ingested, cancellationToken));
        while (inFlight.Count >= maxInFlight)
        {
            var done = await Task.WhenAny(inFlight);
            inFlight.Remove(done);
            await done;
        }
    }

    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        var all = inFlight.ToArray();
        inFlight.Clear();
        await Task.WhenAll(all).WaitAsync(cancellationToken);
    }

    private async Task RequestAsync(RankRequest request, Task ingested, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        await ingested;
        Interlocked.Add(ref waitingTicks, Stopwatch.GetElapsedTime(started).Ticks);
        started = Stopwatch.GetTimestamp();
        var response = await rank(request, cancellationToken);
        Interlocked.Add(ref rankingTicks, Stopwatch.GetElapsedTime(started).Ticks);
        Interlocked.Increment(ref requests);
        if (response.Fallback) { Interlocked.Increment(ref fallbacks); }
        if (response.Logged) { Interlocked.Increment(ref logged); }
    }
}
