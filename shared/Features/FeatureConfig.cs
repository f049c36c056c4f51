using System.Collections.ObjectModel;
using System.Security.Cryptography;
using System.Text.Json;

namespace Serverless.Features;

/// <summary>
/// The versioned feature configuration. Its <see cref="Hash"/> is stamped on every model and every
/// logged feature vector, so a model is only ever served with the configuration it was trained on.
/// Values are checked as they are set: a nonsense configuration cannot be constructed (or deserialized).
/// Bump <see cref="Version"/> whenever the encoder's code changes what a feature means.
/// </summary>
public sealed record FeatureConfig
{
    /// <summary>The MovieLens genres, in the order the encoder assigns them bits.</summary>
    public static IReadOnlyList<string> MovieLensGenres { get; } = Array.AsReadOnly(
    [
        "(no genres listed)", "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary",
        "Drama", "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
        "War", "Western",
    ]);

    /// <summary>Genre bitmasks are 64-bit.</summary>
    public const int MaxGenres = 64;

    /// <summary>Upper bound on <see cref="HistoryLimit"/> (a serving read of more than this is a mistake).</summary>
    public const int MaxHistoryLimit = 100_000;

    public static FeatureConfig Default { get; } = new();

    /// <summary>Feature-set version (1 or more).</summary>
    public int Version
    {
        get;
        init => field = value >= 1 ? value : throw Invalid(nameof(Version), $"must be at least 1 (was {value})");
    } = 1;

    /// <summary>The genres the encoder knows (each gets one bit); other genre names in the catalog are ignored.</summary>
    public IReadOnlyList<string> Genres
    {
        get;
        init => field = CheckGenres(value);
    } = MovieLensGenres;

    /// <summary>How many of a member's most recent ratings the encoder looks at.</summary>
    public int HistoryLimit
    {
        get;
        init => field = value is >= 1 and <= MaxHistoryLimit
            ? value
            : throw Invalid(nameof(HistoryLimit), $"must be between 1 and {MaxHistoryLimit} (was {value})");
    } = 500;

    /// <summary>Window (days before T) for the member's recent activity.</summary>
    public int RecentWindowDays
    {
        get;
        init => field = value >= 1 ? value : throw Invalid(nameof(RecentWindowDays), $"must be at least 1 day (was {value})");
    } = 90;

    /// <summary>How many of the member's most recent likes the similarity feature compares against.</summary>
    public int RecentLikes
    {
        get;
        init => field = value >= 1 ? value : throw Invalid(nameof(RecentLikes), $"must be at least 1 (was {value})");
    } = 20;

    /// <summary>Window (days before the stats watermark) for a title's recent popularity.</summary>
    public int PopularityWindowDays
    {
        get;
        init => field = value >= 1 ? value : throw Invalid(nameof(PopularityWindowDays), $"must be at least 1 day (was {value})");
    } = 365;

    /// <summary>Half-life (days) of a rating's weight in the genre affinity.</summary>
    public double AffinityHalfLifeDays
    {
        get;
        init => field = double.IsFinite(value) && value > 0
            ? value
            : throw Invalid(nameof(AffinityHalfLifeDays), $"must be a positive number of days (was {value})");
    } = 180;

    /// <summary>A rating at or above this value is a like (ratings are 0.5..5).</summary>
    public double LikeThreshold
    {
        get;
        init => field = double.IsFinite(value) && value is >= 0.5 and <= 5.0
            ? value
            : throw Invalid(nameof(LikeThreshold), $"must be within 0.5..5 (was {value})");
    } = 4.0;

    /// <summary>Pseudo-count of the Bayesian shrinkage towards the global mean (0 disables shrinkage).</summary>
    public double PriorCount
    {
        get;
        init => field = double.IsFinite(value) && value >= 0
            ? value
            : throw Invalid(nameof(PriorCount), $"must be a finite number >= 0 (was {value})");
    } = 10;

    /// <summary>
    /// The canonical JSON of every field, in a fixed order, culture-invariant (what <see cref="Hash"/> is taken over).
    /// </summary>
    public string CanonicalJson
    {
        get
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteNumber("version", Version);
                w.WriteStartArray("genres");
                foreach (var genre in Genres)
                {
                    w.WriteStringValue(genre);
                }

                w.WriteEndArray();
                w.WriteNumber("historyLimit", HistoryLimit);
                w.WriteNumber("recentWindowDays", RecentWindowDays);
                w.WriteNumber("recentLikes", RecentLikes);
                w.WriteNumber("popularityWindowDays", PopularityWindowDays);
                w.WriteNumber("affinityHalfLifeDays", AffinityHalfLifeDays);
                w.WriteNumber("likeThreshold", LikeThreshold);
                w.WriteNumber("priorCount", PriorCount);
                w.WriteEndObject();
            }

            return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }
    }

    /// <summary>First 16 hex characters (lower case) of the SHA-256 of <see cref="CanonicalJson"/>.</summary>
    public string Hash => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(CanonicalJson)))[..16];

    /// <summary>Two configurations are equal when every field is (genres compared in order).</summary>
    public bool Equals(FeatureConfig? other) =>
        other is not null && (ReferenceEquals(this, other) || string.Equals(CanonicalJson, other.CanonicalJson, StringComparison.Ordinal));

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(CanonicalJson);

    private static ReadOnlyCollection<string> CheckGenres(IReadOnlyList<string>? genres)
    {
        if (genres is null || genres.Count == 0)
        {
            throw Invalid(nameof(Genres), "must list at least one genre");
        }

        if (genres.Count > MaxGenres)
        {
            throw Invalid(nameof(Genres), $"may list at most {MaxGenres} genres (was {genres.Count})");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var copy = new string[genres.Count];
        for (var i = 0; i < genres.Count; i++)
        {
            var genre = genres[i];
            if (string.IsNullOrWhiteSpace(genre) || genre.Trim().Length != genre.Length || genre.Contains('|', StringComparison.Ordinal))
            {
                throw Invalid(nameof(Genres), $"genre #{i} '{genre}' must be non-empty, without surrounding spaces and without '|'");
            }

            if (!seen.Add(genre))
            {
                throw Invalid(nameof(Genres), $"genre '{genre}' is listed twice");
            }

            copy[i] = genre;
        }

        return Array.AsReadOnly(copy);
    }

    private static ArgumentException Invalid(string field, string message) =>
        new($"FeatureConfig.{field} {message}.", field);
}
