using System.Globalization;
using System.Text.Json;

namespace Serverless.Precompute;

/// <summary>
/// The derived datasets the Hulk computes offline and publishes as versions. A dataset's name is a
/// table partition key and a blob folder, so only these are accepted.
/// </summary>
public static class DerivedDatasets
{
    /// <summary>Per-title rating statistics as of T: what the encoder reads besides a member's history.</summary>
    public const string TitleStats = "title-stats";

    /// <summary>Top-K similar titles per title (item-item cosine on likes as of T).</summary>
    public const string SimilarTitles = "similar-titles";

    /// <summary>Top-N titles per member, scored by the live model with the shared encoder as of T.</summary>
    public const string MemberTopN = "member-top-n";

    public static IReadOnlyList<string> All { get; } = [TitleStats, SimilarTitles, MemberTopN];

    public static bool IsKnown(string? name) => name is not null && All.Contains(name, StringComparer.Ordinal);

    /// <summary>The dependency string a model manifest carries for a version: <c>derived/{dataset}:{version}</c>.</summary>
    public static string Dependency(string dataset, string version) => $"{DependencyPrefix}{dataset}:{version}";

    public const string DependencyPrefix = "derived/";

    /// <summary>Parses <c>derived/{dataset}:{version}</c>; false for any other dependency kind.</summary>
    public static bool TryParseDependency(string dependency, out string dataset, out string version)
    {
        dataset = version = string.Empty;
        if (dependency is null || !dependency.StartsWith(DependencyPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = dependency[DependencyPrefix.Length..];
        var colon = rest.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == rest.Length - 1 || !IsKnown(rest[..colon]) || !DerivedVersionIds.IsValid(rest[(colon + 1)..]))
        {
            return false;
        }

        dataset = rest[..colon];
        version = rest[(colon + 1)..];
        return true;
    }

    /// <summary>A stable partition of a key (FNV-1a over its UTF-16 code units), the same in every process.</summary>
    public static int PartitionOf(string key, int partitions)
    {
        ArgumentNullException.ThrowIfNull(key);
        var hash = 2166136261u;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % (uint)partitions);
    }
}

/// <summary>Version ids: the as-of time and a unique suffix, e.g. 20180101000000-1a2b3c4d.</summary>
public static class DerivedVersionIds
{
    public static string Create(DateTimeOffset asOf, Guid unique) =>
        string.Create(CultureInfo.InvariantCulture, $"{asOf.UtcDateTime:yyyyMMddHHmmss}-{unique:N}")[..23];

    public static bool IsValid(string? id) =>
        id is { Length: > 0 and <= 64 } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
}

/// <summary>Where a version stands (a name on the wire). Building -> Published (-> replaced, still Published) | Failed; Removed after cleanup.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<DerivedVersionStatus>))]
public enum DerivedVersionStatus
{
    Building,
    Published,
    Failed,
    Removed,
}

/// <summary>
/// One version of a derived dataset: what it was computed from (as of T, inputs, code/config hash),
/// what it holds (counts) and when it was current: from <see cref="PublishedAt"/> until
/// <see cref="ReplacedAt"/> (null while it is current).
/// </summary>
public sealed record DerivedVersion(
    string Dataset,
    string Version,
    DerivedVersionStatus Status,
    DateTimeOffset AsOf,
    IReadOnlyList<string> Inputs,
    string CodeHash,
    int Partitions,
    IReadOnlyDictionary<string, long> Counts,
    DateTimeOffset CreatedAt,
    DateTimeOffset? PublishedAt,
    DateTimeOffset? ReplacedAt,
    string? Owner,
    string? Reason)
{
    /// <summary>Whether this version was the current one at <paramref name="t"/>.</summary>
    public bool WasCurrentAt(DateTimeOffset t) =>
        PublishedAt is { } published && published <= t && (ReplacedAt is null || t < ReplacedAt.Value);

    /// <summary>The dependency string a model manifest names it by.</summary>
    public string Dependency => DerivedDatasets.Dependency(Dataset, Version);

    /// <summary>
    /// The version current at <paramref name="t"/> among <paramref name="versions"/>, or null when none
    /// was published yet then. Removed versions still answer (their interval is history) but a caller
    /// cannot load their files.
    /// </summary>
    public static DerivedVersion? CurrentAt(IEnumerable<DerivedVersion> versions, DateTimeOffset t) =>
        versions.Where(v => v.Status is DerivedVersionStatus.Published or DerivedVersionStatus.Removed && v.WasCurrentAt(t))
            .OrderByDescending(v => v.PublishedAt).FirstOrDefault();
}

/// <summary>A title with a score (similarity, or the model's probability).</summary>
public sealed record ScoredTitle(string Title, double Score);

/// <summary>One key's precomputed answer: a title's similar titles, or a member's top-N.</summary>
public sealed record PrecomputedEntry(string Key, IReadOnlyList<ScoredTitle> Items);

/// <summary>One title's statistics as stored in a title-stats version.</summary>
public sealed record TitleStatsEntry(string Title, int RatingCount, double RatingSum, int LikeCount, int RecentCount, DateTimeOffset LastRatedAt);

/// <summary>JSON for derived data: web defaults (camelCase), enums as names.</summary>
public static class DerivedJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };
}

/// <summary>A precompute was refused (409: another one of the dataset is running; 400: a bad request; 404: nothing to read).</summary>
public sealed class PrecomputeRefusedException(int status, string message) : Serverless.Requests.RequestRefusedException(status, message);
