using Serverless.Facts;

namespace Serverless.Features;

/// <summary>
/// What the encoder derives from one member at one time T, computed once per request by
/// <see cref="FeatureEncoder.Profile"/> and reused for every candidate title.
/// </summary>
public sealed class MemberProfile
{
    internal MemberProfile(
        string member,
        DateTimeOffset asOf,
        string configHash,
        ICatalog catalog,
        TitleStatsSnapshot stats,
        IReadOnlyList<Fact> ratings,
        int likeCount,
        int recentCount,
        double[] genreAffinity,
        ulong likedGenres,
        ulong[] recentLikeGenres,
        float[] memberFeatures)
    {
        Member = member;
        AsOf = asOf;
        ConfigHash = configHash;
        Catalog = catalog;
        Stats = stats;
        Ratings = ratings;
        LikeCount = likeCount;
        RecentCount = recentCount;
        GenreAffinityValues = genreAffinity;
        LikedGenres = likedGenres;
        RecentLikeGenres = recentLikeGenres;
        MemberFeatures = memberFeatures;
    }

    public string Member { get; }

    /// <summary>The time T the profile describes.</summary>
    public DateTimeOffset AsOf { get; }

    public string ConfigHash { get; }

    public ICatalog Catalog { get; }

    public TitleStatsSnapshot Stats { get; }

    /// <summary>The ratings the features were computed from: known at T, current, newest first, at most the history limit.</summary>
    public IReadOnlyList<Fact> Ratings { get; }

    public int LikeCount { get; }

    /// <summary>Ratings within the recent window before T.</summary>
    public int RecentCount { get; }

    /// <summary>Per configured genre: share of the member's time-decayed like weight that falls on the genre (0..1).</summary>
    public IReadOnlyList<double> GenreAffinity => GenreAffinityValues;

    /// <summary>Bit i set when the member liked a title of configured genre i.</summary>
    public ulong LikedGenres { get; }

    internal double[] GenreAffinityValues { get; }

    /// <summary>Genre masks of the most recent likes, newest first.</summary>
    internal ulong[] RecentLikeGenres { get; }

    /// <summary>The member-only features, already in encoder order (indices 0..MemberFeatureCount-1).</summary>
    internal float[] MemberFeatures { get; }
}
