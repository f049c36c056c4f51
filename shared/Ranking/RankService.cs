using System.Buffers;
using Microsoft.Extensions.Options;
using Serverless.Archive;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Lumberjack;
using Serverless.Models;

namespace Serverless.Ranking;

/// <summary>POST /api/rank body.</summary>
public sealed record RankRequest(string? Member, string[]? Candidates, int? Count, DateTimeOffset? AsOf);

/// <summary>One ranked title.</summary>
public sealed record RankedTitle(string Title, float Score, int Position);

/// <summary>The answer: ranked titles, which model and feature config produced them, the log id, and whether the Substitute answered.</summary>
public sealed record RankResponse(
    string Member,
    string LogId,
    DateTimeOffset AsOf,
    string? ModelVersion,
    string ConfigHash,
    DateTimeOffset? DataWatermark,
    bool Fallback,
    string? FallbackReason,
    bool Logged,
    IReadOnlyList<RankedTitle> Items);

/// <summary>The request was refused (400), or the service cannot answer at all (503).</summary>
public sealed class RankRefusedException(int status, string message) : Serverless.Requests.RequestRefusedException(status, message);

/// <summary>
/// Ranking with the one feature code path: the member's history from the archive's live interface
/// as of T, the catalog and title statistics the live model was trained with, the serving encoder,
/// the Sentinel-checked model. When no valid model is live or the deadline passes, the Substitute
/// answers by popularity as of the data watermark and says so. Sampled requests are logged (every
/// scored candidate with its exact feature values) without adding to the request's latency.
/// </summary>
public sealed class RankService(MemberHistoryCache histories, LiveModel live, FeatureEncoder encoder, FeatureLogBuffer log, IOptions<LumberjackOptions> logging, IOptions<ServingOptions> serving, TimeProvider time, ServingMonitor monitor, Precompute.ServingTitleStats? derivedStats = null)
{
    public const int MaxCount = 100;
    public const int MaxCandidates = 1000;
    public const int DefaultPool = 100;

    /// <summary>How far after now a request's asOf may lie (clock skew between client and server).</summary>
    public static readonly TimeSpan MaxAsOfAhead = AsOfRule.MaxAhead;

    /// <summary>Checks a request; throws <see cref="RankRefusedException"/> with a clear message.</summary>
    public static (string Member, string[]? Candidates, int Count) Validate(RankRequest? request)
    {
        if (request is null)
        {
            throw new RankRefusedException(400, "a JSON body {\"member\": \"...\"} is required");
        }

        if (FactValidator.KeyError("member", request.Member, FactValidator.MaxKeyLength, required: true) is { } memberError)
        {
            throw new RankRefusedException(400, memberError);
        }

        var count = request.Count ?? 10;
        if (count is < 1 or > MaxCount)
        {
            throw new RankRefusedException(400, $"count must be 1..{MaxCount}");
        }

        if (request.Candidates is { } candidates)
        {
            if (candidates.Length is 0 or > MaxCandidates)
            {
                throw new RankRefusedException(400, $"candidates must hold 1..{MaxCandidates} titles (or be left out for the default pool)");
            }

            if (candidates.Select(c => FactValidator.KeyError("candidate", c, FactValidator.MaxKeyLength, required: true)).FirstOrDefault(e => e is not null) is { } candidateError)
            {
                throw new RankRefusedException(400, candidateError);
            }

            if (candidates.Distinct(StringComparer.Ordinal).Count() != candidates.Length)
            {
                throw new RankRefusedException(400, "candidates must not repeat a title");
            }
        }

        return (request.Member!, request.Candidates, count);
    }

    public async Task<RankResponse> RankAsync(RankRequest? request, CancellationToken cancellationToken = default)
    {
        var (member, requested, count) = Validate(request);
        var now = time.GetUtcNow();
        var asOf = request!.AsOf ?? now;
        if (AsOfRule.Error(asOf, now) is { } asOfError)
        {
            throw new RankRefusedException(400, asOfError);
        }

        var logId = Guid.NewGuid().ToString("N");

        // The lease keeps this model usable until the request is done, even if a new one is swapped in meanwhile.
        using var lease = live.Acquire();
        var bundle = lease.Bundle;
        if (bundle is not null && asOf < bundle.Data.Watermark)
        {
            throw new RankRefusedException(400,
                $"asOf {asOf:O} is before the live model's data watermark {bundle.Data.Watermark:O}: serving cannot look back without leaking later data (the Time Machine answers questions about the past offline)");
        }

        // The deadline bounds this request's wait for the history, not the read: a read that takes
        // longer goes on and fills the cache, so the member's next request finds it.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(serving.Value.Deadline);
        MemberHistoryRead read;
        try
        {
            read = await histories.HistoryAsync(member, encoder.Config.HistoryLimit, asOf, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Substitute(member, logId, asOf, requested, count, bundle, "deadline exceeded reading the member's history");
        }

        if (bundle is null)
        {
            return Substitute(member, logId, asOf, requested, count, null, "no valid model is live");
        }

        var history = read.Facts;
        var candidates = requested ?? DefaultCandidates(bundle.Data, history);
        if (candidates.Length == 0)
        {
            // A member who has rated every title of the default pool: nothing left to rank (and nothing to log).
            monitor.RecordModelAnswer();
            return new RankResponse(member, logId, asOf, bundle.Manifest.Version, encoder.ConfigHash, bundle.Data.Watermark, false, null, false, []);
        }

        // Title statistics: the current derived version (what training read at the same moment), else the model's snapshot.
        var profile = ProfileOf(encoder, member, history, asOf, bundle.Data, derivedStats?.For(asOf)?.Stats);
        var n = candidates.Length;
        var width = encoder.Count;

        // Rows, scores and order live in pooled arrays: a request allocates little, so collections
        // (the tail of the latency) come rarely. Logging copies what it needs before they go back.
        var rows = ArrayPool<float>.Shared.Rent(n * width);
        var scores = ArrayPool<float>.Shared.Rent(n);
        var order = ArrayPool<int>.Shared.Rent(n);
        try
        {
            Score(encoder, bundle.Scorer, profile, candidates, rows.AsSpan(0, n * width), scores.AsSpan(0, n));
            OrderBestFirst(order.AsSpan(0, n), scores, candidates);

            // The watermark of what was read: the moment the archive was read as of (a cached read's
            // own time), and the newest ingest time among the facts it returned: the archive as of
            // that one, with the model's snapshot, reproduces the vectors exactly even when a fact
            // of the member was in flight (enqueued before the read, stored after it).
            var watermark = read.ReadAt;
            var logged = FeatureLogSampler.IsSampled(member, logging.Value.SampleRate)
                && log.TryLog(LoggedRequest.Capture(logId, asOf, member, bundle.Manifest.Version, encoder.ConfigHash, watermark, false,
                    candidates, rows.AsSpan(0, n * width), width, scores.AsSpan(0, n), order.AsSpan(0, n), read.FactsWatermark));

            var items = new List<RankedTitle>(Math.Min(count, n));
            for (var position = 0; position < items.Capacity; position++)
            {
                items.Add(new RankedTitle(candidates[order[position]], scores[order[position]], position));
            }

            monitor.RecordModelAnswer();
            return new RankResponse(member, logId, asOf, bundle.Manifest.Version, encoder.ConfigHash, bundle.Data.Watermark, false, null, logged, items);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rows);
            ArrayPool<float>.Shared.Return(scores);
            ArrayPool<int>.Shared.Return(order);
        }
    }

    /// <summary>Highest score first; equal scores by title (ordinal), so a ranking is reproducible.</summary>
    private readonly struct BestFirst(float[] scores, string[] titles) : IComparer<int>
    {
        public int Compare(int x, int y)
        {
            var byScore = scores[y].CompareTo(scores[x]);
            return byScore != 0 ? byScore : string.CompareOrdinal(titles[x], titles[y]);
        }
    }

    /// <summary>
    /// The member profile serving encodes from: the member's ratings as read, at the request time,
    /// with the model's data (title statistics: <paramref name="stats"/> when given, a derived version). The skew meter recomputes logged vectors with this same call.
    /// </summary>
    public static MemberProfile ProfileOf(FeatureEncoder encoder, string member, IEnumerable<ArchivedFact> history, DateTimeOffset asOf, ServingData data, TitleStatsSnapshot? stats = null) =>
        encoder.Profile(new MemberHistory(member, history.Select(h => h.Fact).Where(f => f.Kind == FactKind.Rating).ToList()), asOf, data.Catalog, stats ?? data.Stats);

    /// <summary>Encodes every candidate into <paramref name="rows"/> (one row of the encoder's width each) and scores them into <paramref name="scores"/>.</summary>
    public static void Score(FeatureEncoder encoder, ModelScorer scorer, MemberProfile profile, string[] candidates, Span<float> rows, Span<float> scores)
    {
        var width = encoder.Count;
        for (var i = 0; i < candidates.Length; i++)
        {
            encoder.Encode(profile, candidates[i], rows.Slice(i * width, width));
        }

        scorer.ScoreBatch(rows[..(candidates.Length * width)], scores[..candidates.Length]);
    }

    /// <summary>Fills <paramref name="order"/> with candidate indexes, highest score first (ties by title): the model's ranking.</summary>
    public static void OrderBestFirst(Span<int> order, float[] scores, string[] candidates)
    {
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        order.Sort(new BestFirst(scores, candidates));
    }

    /// <summary>Popular titles as of the data watermark that the member has not rated: the default candidate pool.</summary>
    public static string[] DefaultCandidates(ServingData data, IEnumerable<ArchivedFact> history)
    {
        var rated = history.Select(h => h.Fact.Title).ToHashSet(StringComparer.Ordinal);
        return data.Popular.Where(t => !rated.Contains(t)).Take(DefaultPool).ToArray();
    }

    /// <summary>The Substitute's ranking: rating count as of the data watermark, most first, ties by title.</summary>
    public static IEnumerable<(string Title, float Popularity)> ByPopularity(IEnumerable<string> candidates, ServingData? data) =>
        candidates.Select(t => (Title: t, Popularity: (float)(data?.Stats.Find(t)?.RatingCount ?? 0)))
            .OrderByDescending(c => c.Popularity).ThenBy(c => c.Title, StringComparer.Ordinal);

    /// <summary>
    /// The Substitute: rank by popularity (rating count as of the data watermark), say so. Every call
    /// counts as a Substitute answer for health, including the 503 when it has nothing to rank.
    /// </summary>
    private RankResponse Substitute(string member, string logId, DateTimeOffset asOf, string[]? requested, int count, ServingBundle? bundle, string reason)
    {
        monitor.RecordSubstitute(reason);
        if (bundle is null && requested is null)
        {
            throw new RankRefusedException(503, $"{reason}, and no popularity data is loaded to fall back on: pass candidates, or publish a model");
        }

        var candidates = requested ?? bundle!.Data.Popular.Take(DefaultPool).ToArray();
        var ranked = ByPopularity(candidates, bundle?.Data).Take(count)
            .Select((c, position) => new RankedTitle(c.Title, c.Popularity, position)).ToList();
        return new RankResponse(member, logId, asOf, null, encoder.ConfigHash, bundle?.Data.Watermark, true, reason, false, ranked);
    }
}
