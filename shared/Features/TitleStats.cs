using Serverless.Facts;

namespace Serverless.Features;

/// <summary>What the ratings known at a watermark say about one title.</summary>
public sealed class TitleStats
{
    internal TitleStats()
    {
    }

    public int RatingCount { get; private set; }

    /// <summary>Sum of rating values (exact: ratings are half stars).</summary>
    public double RatingSum { get; private set; }

    /// <summary>Ratings at or above <see cref="FeatureConfig.LikeThreshold"/>.</summary>
    public int LikeCount { get; private set; }

    /// <summary>Ratings within <see cref="FeatureConfig.PopularityWindowDays"/> before the watermark.</summary>
    public int RecentCount { get; private set; }

    /// <summary>Event time of the newest rating.</summary>
    public DateTimeOffset LastRatedAt { get; private set; } = DateTimeOffset.MinValue;

    /// <summary>Statistics as stored in a derived-data version (shared/Precompute).</summary>
    internal static TitleStats Restore(int ratingCount, double ratingSum, int likeCount, int recentCount, DateTimeOffset lastRatedAt) =>
        new() { RatingCount = ratingCount, RatingSum = ratingSum, LikeCount = likeCount, RecentCount = recentCount, LastRatedAt = lastRatedAt };

    internal void Add(double value, DateTimeOffset eventTime, bool like, bool recent)
    {
        RatingCount++;
        RatingSum += value;
        if (like) { LikeCount++; }
        if (recent) { RecentCount++; }
        if (eventTime > LastRatedAt) { LastRatedAt = eventTime; }
    }
}

/// <summary>
/// Per-title rating statistics as known at <see cref="Watermark"/>. Built offline (or periodically)
/// and handed to the encoder; the encoder refuses a snapshot from after its time T or from another
/// feature configuration.
/// </summary>
public sealed class TitleStatsSnapshot
{
    /// <summary>Global mean rating of a snapshot without ratings.</summary>
    public const double EmptyMeanRating = 3.5;

    /// <summary>Global like rate of a snapshot without ratings.</summary>
    public const double EmptyLikeRate = 0.5;

    private readonly Dictionary<string, TitleStats> titles;

    private TitleStatsSnapshot(DateTimeOffset watermark, string configHash, Dictionary<string, TitleStats> titles, long totalRatings, long totalLikes, double ratingSum)
    {
        Watermark = watermark;
        ConfigHash = configHash;
        this.titles = titles;
        TotalRatings = totalRatings;
        TotalLikes = totalLikes;
        GlobalMeanRating = totalRatings == 0 ? EmptyMeanRating : ratingSum / totalRatings;
        GlobalLikeRate = totalRatings == 0 ? EmptyLikeRate : (double)totalLikes / totalRatings;
    }

    public DateTimeOffset Watermark { get; }

    /// <summary>The hash of the feature configuration the snapshot was built with.</summary>
    public string ConfigHash { get; }

    public IReadOnlyDictionary<string, TitleStats> Titles => titles;

    public long TotalRatings { get; }

    public long TotalLikes { get; }

    /// <summary>Mean of all ratings known at the watermark (<see cref="EmptyMeanRating"/> when none).</summary>
    public double GlobalMeanRating { get; }

    /// <summary>Share of likes among all ratings known at the watermark (<see cref="EmptyLikeRate"/> when none).</summary>
    public double GlobalLikeRate { get; }

    public TitleStats? Find(string title) => titles.GetValueOrDefault(title);

    /// <summary>A snapshot without ratings (everything falls back to the documented defaults).</summary>
    public static TitleStatsSnapshot Empty(DateTimeOffset watermark, FeatureConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new TitleStatsSnapshot(watermark, config.Hash, new Dictionary<string, TitleStats>(StringComparer.Ordinal), 0, 0, 0);
    }

    /// <summary>
    /// A snapshot rebuilt from per-title statistics stored elsewhere (a derived-data version); the
    /// totals are the sums over the titles, exactly as <see cref="Build"/> computes them.
    /// </summary>
    public static TitleStatsSnapshot Restore(DateTimeOffset watermark, string configHash, IEnumerable<KeyValuePair<string, TitleStats>> titles)
    {
        ArgumentNullException.ThrowIfNull(configHash);
        ArgumentNullException.ThrowIfNull(titles);
        var map = new Dictionary<string, TitleStats>(StringComparer.Ordinal);
        long total = 0, likes = 0;
        double sum = 0;
        foreach (var (title, stats) in titles)
        {
            map.Add(title, stats);
            total += stats.RatingCount;
            likes += stats.LikeCount;
            sum += stats.RatingSum;
        }

        return new TitleStatsSnapshot(watermark, configHash, map, total, likes, sum);
    }

    /// <summary>
    /// Aggregates the rating facts known at <paramref name="watermark"/> (event time and ingest time
    /// both at or before it), skipping versions superseded or retracted by a fact known then, and
    /// counting a fact id once. Catalog facts are ignored. Linear in the number of facts.
    /// </summary>
    public static TitleStatsSnapshot Build(IEnumerable<Fact> ratings, DateTimeOffset watermark, FeatureConfig config)
    {
        ArgumentNullException.ThrowIfNull(ratings);
        ArgumentNullException.ThrowIfNull(config);
        HashSet<string>? superseded = null;
        var known = ratings is ICollection<Fact> c ? new List<Fact>(c.Count) : [];
        foreach (var f in ratings)
        {
            if (KnownAt.Supersedes(f, watermark, out var id))
            {
                (superseded ??= new HashSet<string>(StringComparer.Ordinal)).Add(id);
            }

            if (f.Kind == FactKind.Rating && KnownAt.IsKnown(f, watermark) && !string.IsNullOrEmpty(f.Title) && f.Value is { } v && double.IsFinite(v))
            {
                known.Add(f);
            }
        }

        var recentFrom = watermark.AddDays(-config.PopularityWindowDays);
        var seen = new HashSet<string>(known.Count, StringComparer.Ordinal);
        var titles = new Dictionary<string, TitleStats>(StringComparer.Ordinal);
        long total = 0, likes = 0;
        double sum = 0;
        foreach (var f in known)
        {
            if ((superseded is not null && superseded.Contains(f.Id)) || !seen.Add(f.Id))
            {
                continue;
            }

            var value = f.Value!.Value;
            var like = value >= config.LikeThreshold;
            if (!titles.TryGetValue(f.Title!, out var stats))
            {
                stats = new TitleStats();
                titles.Add(f.Title!, stats);
            }

            stats.Add(value, f.EventTime, like, f.EventTime > recentFrom);
            total++;
            sum += value;
            if (like) { likes++; }
        }

        return new TitleStatsSnapshot(watermark, config.Hash, titles, total, likes, sum);
    }
}
