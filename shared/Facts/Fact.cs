using System.Text.Json.Serialization;

namespace Serverless.Facts;

/// <summary>What a fact says.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<FactKind>))]
public enum FactKind
{
    /// <summary>A member rated a title (value 0.5..5 in half stars). A "like" is value >= 4.</summary>
    Rating,

    /// <summary>A title's catalog entry (attributes: name, genres, year).</summary>
    Catalog,

    /// <summary>Withdraws the fact named by <see cref="Fact.Supersedes"/> without erasing it.</summary>
    Retraction,
}

/// <summary>
/// One immutable, bitemporal fact. <see cref="EventTime"/> is when it happened;
/// <see cref="IngestTime"/> is when the system learned it (the facts hub's enqueued time, so a
/// redelivered event keeps its ingest time). A correction carries <see cref="Supersedes"/>: the
/// earlier version stays stored and stops being current from the correction's ingest time on.
/// </summary>
public sealed record Fact(
    string Id,
    FactKind Kind,
    string? Member,
    string? Title,
    double? Value,
    DateTimeOffset EventTime,
    DateTimeOffset IngestTime,
    string? Supersedes = null,
    IReadOnlyDictionary<string, string>? Attributes = null)
{
    /// <summary>The archive partition the fact lives in: the member's history, or the title's catalog.</summary>
    public string PartitionKey => FactPartition.Of(this);

    /// <summary>A rating of 4 stars or more.</summary>
    public bool IsLike => Kind == FactKind.Rating && Value >= 4.0;
}

/// <summary>
/// Archive partition keys. Member facts share a partition per member; the whole catalog shares one
/// partition (titles are many and small: a batch read of the catalog is one partition, and a title's
/// entries are one contiguous row-key range in it).
/// </summary>
public static class FactPartition
{
    public const string MemberPrefix = "m_";
    public const string Catalog = "catalog";

    public static string ForMember(string member) => MemberPrefix + member;

    public static string Of(Fact fact) => fact.Member is { } member ? ForMember(member) : Catalog;

    /// <summary>Whether a string is an archive partition key (validates continuation tokens).</summary>
    public static bool IsPartitionKey(string? key) =>
        key == Catalog
        || (key is { Length: > 2 } && key.Length <= 2 + FactValidator.MaxKeyLength && key.StartsWith(MemberPrefix, StringComparison.Ordinal)
            && FactValidator.KeyError("member", key[2..], FactValidator.MaxKeyLength, required: true) is null);
}
