using System.Collections.ObjectModel;
using System.Numerics;
using Serverless.Facts;

namespace Serverless.Features;

/// <summary>The encoder's feature names, in vector order (see docs/features.md).</summary>
public static class FeatureNames
{
    public const string MemberRatingCount = "member_rating_count";
    public const string MemberMeanRating = "member_mean_rating";
    public const string MemberLikeRate = "member_like_rate";
    public const string MemberDaysSinceLastRating = "member_days_since_last_rating";
    public const string MemberRecentCount = "member_recent_count";
    public const string MemberLikedGenreShare = "member_liked_genre_share";
    public const string TitlePopularity = "title_popularity";
    public const string TitleRecentPopularity = "title_recent_popularity";
    public const string TitleMeanRating = "title_mean_rating";
    public const string TitleLikeRate = "title_like_rate";
    public const string TitleDaysSinceLastRated = "title_days_since_last_rated";
    public const string TitleAgeYears = "title_age_years";
    public const string TitleDaysSinceFirstSeen = "title_days_since_first_seen";
    public const string TitleGenreCount = "title_genre_count";
    public const string GenreAffinity = "genre_affinity";
    public const string GenreMatch = "genre_match";
    public const string SimilarityToRecentLikes = "similarity_to_recent_likes";

    /// <summary>All names in vector order.</summary>
    public static IReadOnlyList<string> All { get; } = Array.AsReadOnly(
    [
        MemberRatingCount, MemberMeanRating, MemberLikeRate, MemberDaysSinceLastRating, MemberRecentCount, MemberLikedGenreShare,
        TitlePopularity, TitleRecentPopularity, TitleMeanRating, TitleLikeRate, TitleDaysSinceLastRated, TitleAgeYears,
        TitleDaysSinceFirstSeen, TitleGenreCount, GenreAffinity, GenreMatch, SimilarityToRecentLikes,
    ]);
}

/// <summary>
/// The one feature code path used by serving and training. Pure: no I/O, no clock; the time T is an
/// argument and nothing known after T is used (see <see cref="KnownAt"/>). Thread-safe.
/// </summary>
public sealed class FeatureEncoder
{
    /// <summary>Days used for "days since" when there is nothing to measure from (no rating at all): ten years.</summary>
    public const double ColdDays = 3650;

    /// <summary>Age in years of a title whose release year is unknown (or that is not in the catalog).</summary>
    public const double DefaultTitleAgeYears = 10;

    private const int MemberFeatureCount = 6;
    private const double TicksPerDay = TimeSpan.TicksPerDay;

    private static readonly double ColdDaysLog = Math.Log(1 + ColdDays);

    private readonly Dictionary<string, int> genreIndex;

    /// <summary>The feature the test hook moves (-1: none, always outside tests) and by how much.</summary>
    private readonly int movedFeature = -1;
    private readonly float movedBy;

    public FeatureEncoder(FeatureConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        ConfigHash = config.Hash;
        genreIndex = new Dictionary<string, int>(config.Genres.Count, StringComparer.Ordinal);
        for (var i = 0; i < config.Genres.Count; i++)
        {
            genreIndex.Add(config.Genres[i], i);
        }
    }

    /// <summary>
    /// Test hook: an encoder whose code computes <paramref name="feature"/> differently (shifted by
    /// <paramref name="shift"/>) while its <see cref="Config"/> and <see cref="ConfigHash"/> stay the
    /// same: what an edit to the encoder's code looks like, the fault the golden probes exist for.
    /// Internal (tests reach it through InternalsVisibleTo); the services build encoders with the
    /// public constructor, so neither configuration nor input can reach it. Serving pays one compare
    /// of a readonly field per vector.
    /// </summary>
    internal FeatureEncoder(FeatureConfig config, string feature, float shift)
        : this(config)
    {
        movedFeature = FeatureNames.All.ToList().IndexOf(feature);
        if (movedFeature < 0)
        {
            throw new ArgumentException($"no feature named '{feature}'", nameof(feature));
        }

        movedBy = shift;
    }

    public FeatureConfig Config { get; }

    /// <summary>The hash of <see cref="Config"/>: stamp it on every model and logged vector.</summary>
    public string ConfigHash { get; }

    /// <summary>Feature names (snake_case) in vector order.</summary>
    public IReadOnlyList<string> Names { get; } = FeatureNames.All;

    /// <summary>Length of a feature vector.</summary>
    public int Count { get; } = FeatureNames.All.Count;

    /// <summary>
    /// Derives the member's profile at <paramref name="asOf"/>. Uses only facts known at T
    /// (event and ingest time at or before T), drops versions superseded or retracted by a fact known
    /// at T, and keeps the <see cref="FeatureConfig.HistoryLimit"/> newest (event time, then id
    /// ordinal): the same facts whether the caller passes a full history or the archive's limited read.
    /// </summary>
    /// <exception cref="ArgumentException">Stats from another configuration or after T, or a fact of another member.</exception>
    public MemberProfile Profile(MemberHistory history, DateTimeOffset asOf, ICatalog catalog, TitleStatsSnapshot stats)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(stats);
        if (!string.Equals(stats.ConfigHash, ConfigHash, StringComparison.Ordinal))
        {
            throw new ArgumentException($"title stats were built with feature config {stats.ConfigHash}, the encoder uses {ConfigHash}", nameof(stats));
        }

        if (stats.Watermark > asOf)
        {
            throw new ArgumentException($"title stats watermark {stats.Watermark:O} is after T {asOf:O}: they would leak the future", nameof(stats));
        }

        var ratings = SelectRatings(history, asOf);
        var config = Config;
        var genreCount = config.Genres.Count;
        var recentFrom = asOf.AddDays(-config.RecentWindowDays);
        var decayPerDay = Math.Log(2) / config.AffinityHalfLifeDays;

        int likes = 0, recent = 0;
        double sum = 0, totalLikeWeight = 0;
        ulong likedGenres = 0;
        var likeWeight = new double[genreCount];
        var recentLikes = new ulong[Math.Min(config.RecentLikes, ratings.Count)];
        var recentLikeCount = 0;
        foreach (var f in ratings)
        {
            var value = f.Value!.Value;
            sum += value;
            if (f.EventTime > recentFrom) { recent++; }
            if (value < config.LikeThreshold)
            {
                continue;
            }

            likes++;
            var genres = GenresOf(catalog, f.Title!, asOf);
            likedGenres |= genres;
            if (recentLikeCount < recentLikes.Length) { recentLikes[recentLikeCount++] = genres; }
            var weight = Math.Exp(-decayPerDay * DaysBetween(f.EventTime, asOf));
            totalLikeWeight += weight;
            for (var bits = genres; bits != 0; bits &= bits - 1)
            {
                likeWeight[BitOperations.TrailingZeroCount(bits)] += weight;
            }
        }

        if (totalLikeWeight > 0)
        {
            for (var g = 0; g < genreCount; g++) { likeWeight[g] /= totalLikeWeight; }
        }

        var n = ratings.Count;
        var member = new float[MemberFeatureCount];
        member[0] = (float)Math.Log(1 + n);
        member[1] = (float)Shrink(sum, n, stats.GlobalMeanRating, config.PriorCount);
        member[2] = (float)Shrink(likes, n, stats.GlobalLikeRate, config.PriorCount);
        member[3] = (float)(n == 0 ? ColdDaysLog : Math.Log(1 + DaysBetween(ratings[0].EventTime, asOf)));
        member[4] = (float)Math.Log(1 + recent);
        member[5] = (float)BitOperations.PopCount(likedGenres) / genreCount;

        return new MemberProfile(
            history.Member, asOf, ConfigHash, catalog, stats, ratings, likes, recent, likeWeight, likedGenres,
            recentLikeCount == recentLikes.Length ? recentLikes : recentLikes[..recentLikeCount], member);
    }

    /// <summary>Writes the feature vector of (profile's member, <paramref name="candidateTitle"/>) at the profile's T. Allocation-free.</summary>
    /// <exception cref="ArgumentException">A profile of another configuration, or a destination that is not <see cref="Count"/> long.</exception>
    public void Encode(MemberProfile profile, string candidateTitle, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(candidateTitle);
        if (!string.Equals(profile.ConfigHash, ConfigHash, StringComparison.Ordinal))
        {
            throw new ArgumentException($"the profile was made with feature config {profile.ConfigHash}, the encoder uses {ConfigHash}", nameof(profile));
        }

        if (destination.Length != Count)
        {
            throw new ArgumentException($"destination holds {destination.Length} values, a feature vector has {Count}", nameof(destination));
        }

        var config = Config;
        var asOf = profile.AsOf;
        var stats = profile.Stats;
        profile.MemberFeatures.AsSpan().CopyTo(destination);

        // Title features: as of the stats watermark (<= T) and the catalog as of T.
        var entry = FindEntry(profile.Catalog, candidateTitle, asOf);
        var genres = entry is null ? 0UL : MaskOf(entry);
        var genreCount = BitOperations.PopCount(genres);
        var title = stats.Find(candidateTitle);
        var count = title?.RatingCount ?? 0;
        destination[6] = (float)Math.Log(1 + count);
        destination[7] = (float)Math.Log(1 + (title?.RecentCount ?? 0));
        destination[8] = (float)Shrink(title?.RatingSum ?? 0, count, stats.GlobalMeanRating, config.PriorCount);
        destination[9] = (float)Shrink(title?.LikeCount ?? 0, count, stats.GlobalLikeRate, config.PriorCount);
        // Recency as of the statistics' own time, like the counts beside it: statistics refreshed at T
        // and read later must not turn this into a clock that keeps growing until the next refresh
        // (serving reads a version as of T; time travel recomputes at each cutoff, where T = C).
        destination[10] = (float)(count == 0 ? ColdDaysLog : Math.Log(1 + DaysBetween(title!.LastRatedAt, stats.Watermark)));
        destination[11] = (float)(entry?.Year is { } year ? Math.Max(0, asOf.UtcDateTime.Year - year) : DefaultTitleAgeYears);
        destination[12] = (float)(entry is null ? 0 : Math.Log(1 + DaysBetween(entry.FirstSeen, asOf)));
        destination[13] = genreCount;

        // Member x title.
        double affinity = 0;
        var affinities = profile.GenreAffinityValues;
        for (var bits = genres; bits != 0; bits &= bits - 1)
        {
            affinity += affinities[BitOperations.TrailingZeroCount(bits)];
        }

        destination[14] = genreCount == 0 ? 0f : (float)(affinity / genreCount);
        destination[15] = genreCount == 0 ? 0f : (float)BitOperations.PopCount(genres & profile.LikedGenres) / genreCount;
        double best = 0;
        foreach (var liked in profile.RecentLikeGenres)
        {
            var union = BitOperations.PopCount(genres | liked);
            if (union > 0)
            {
                best = Math.Max(best, (double)BitOperations.PopCount(genres & liked) / union);
            }
        }

        destination[16] = (float)best;
        if (movedFeature >= 0)
        {
            destination[movedFeature] += movedBy;
        }

        for (var i = 0; i < destination.Length; i++)
        {
            if (!float.IsFinite(destination[i]))
            {
                throw new InvalidOperationException($"feature {Names[i]} of title '{candidateTitle}' is not finite: the encoder has a bug");
            }
        }
    }

    /// <summary>Convenience form of <see cref="Encode(MemberProfile, string, Span{float})"/> that allocates the vector.</summary>
    public float[] Encode(MemberProfile profile, string candidateTitle)
    {
        var vector = new float[Count];
        Encode(profile, candidateTitle, vector);
        return vector;
    }

    /// <summary>The configured genres of a catalog entry as a bitmask (unknown genre names are ignored).</summary>
    public ulong MaskOf(CatalogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ulong mask = 0;
        var genres = entry.Genres;
        for (var i = 0; i < genres.Count; i++)
        {
            if (genreIndex.TryGetValue(genres[i], out var bit)) { mask |= 1UL << bit; }
        }

        return mask;
    }

    /// <summary>A catalog entry first seen after T is treated as unknown (a guard against a catalog newer than T).</summary>
    private static CatalogEntry? FindEntry(ICatalog catalog, string title, DateTimeOffset asOf) =>
        catalog.Find(title) is { } entry && entry.FirstSeen <= asOf ? entry : null;

    private ulong GenresOf(ICatalog catalog, string title, DateTimeOffset asOf) =>
        FindEntry(catalog, title, asOf) is { } entry ? MaskOf(entry) : 0UL;

    /// <summary>The member's ratings as used by every feature: known at T, current, deduplicated by id, newest first, limited.</summary>
    private ReadOnlyCollection<Fact> SelectRatings(MemberHistory history, DateTimeOffset asOf)
    {
        var facts = history.Ratings ?? throw new ArgumentException("the history has no fact list", nameof(history));
        HashSet<string>? superseded = null;
        var known = new List<Fact>(facts.Count);
        for (var i = 0; i < facts.Count; i++)
        {
            var f = facts[i];
            if (f.Member is not null && !string.Equals(f.Member, history.Member, StringComparison.Ordinal))
            {
                throw new ArgumentException($"fact '{f.Id}' belongs to member '{f.Member}', not '{history.Member}'", nameof(history));
            }

            if (KnownAt.Supersedes(f, asOf, out var id))
            {
                (superseded ??= new HashSet<string>(StringComparer.Ordinal)).Add(id);
            }

            if (f.Kind == FactKind.Rating && KnownAt.IsKnown(f, asOf) && !string.IsNullOrEmpty(f.Title) && f.Value is { } v && double.IsFinite(v))
            {
                known.Add(f);
            }
        }

        known.Sort(Canonical);
        var limit = Config.HistoryLimit;
        var selected = new List<Fact>(Math.Min(limit, known.Count));
        string? previousId = null;
        foreach (var f in known)
        {
            // A redelivered fact (same id and event time) sorts next to its twin: count it once.
            if ((superseded is not null && superseded.Contains(f.Id)) || string.Equals(previousId, f.Id, StringComparison.Ordinal))
            {
                continue;
            }

            previousId = f.Id;
            selected.Add(f);
            if (selected.Count == limit)
            {
                break;
            }
        }

        return selected.AsReadOnly();
    }

    /// <summary>Newest first (event time, id ordinal) as the archive reads, then ingest time and value so the order is total.</summary>
    private static int Canonical(Fact a, Fact b)
    {
        var c = KnownAt.NewestFirst(a, b);
        if (c != 0) { return c; }
        c = a.IngestTime.UtcTicks.CompareTo(b.IngestTime.UtcTicks);
        return c != 0 ? c : a.Value!.Value.CompareTo(b.Value!.Value);
    }

    private static double DaysBetween(DateTimeOffset earlier, DateTimeOffset later) =>
        Math.Max(0, (later.UtcTicks - earlier.UtcTicks) / TicksPerDay);

    /// <summary>Bayesian shrinkage: (sum + prior * mean) / (count + prior); the mean itself when both counts are 0.</summary>
    private static double Shrink(double sum, int count, double mean, double prior) =>
        count + prior > 0 ? (sum + (prior * mean)) / (count + prior) : mean;
}
