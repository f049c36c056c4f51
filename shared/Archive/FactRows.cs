using System.Globalization;
using System.Text.Json;
using Azure.Data.Tables;
using Serverless.Facts;

namespace Serverless.Archive;

/// <summary>
/// The archive's table layout. One row per fact version in the partition of its member (or title):
/// RowKey = inverted event ticks + fact id, so a partition reads newest-first and a redelivered fact
/// lands on the same key. A superseded version keeps its row and gets SupersededAt/SupersededBy.
/// </summary>
public static class FactRows
{
    /// <summary>The "not superseded" marker (Table storage has no null range queries).</summary>
    public static readonly DateTimeOffset Never = new(9999, 12, 31, 0, 0, 0, TimeSpan.Zero);

    public const string FactId = nameof(FactId);
    public const string Kind = nameof(Kind);
    public const string Member = nameof(Member);
    public const string Title = nameof(Title);
    public const string Value = nameof(Value);
    public const string EventTime = nameof(EventTime);
    public const string IngestTime = nameof(IngestTime);
    public const string Supersedes = nameof(Supersedes);
    public const string SupersededAt = nameof(SupersededAt);
    public const string SupersededBy = nameof(SupersededBy);
    public const string Attributes = nameof(Attributes);

    /// <summary>Separates a title from the rest of a catalog row key ('|' cannot occur in ids).</summary>
    public const char TitleSeparator = '|';

    /// <summary>Member rows: inverted event ticks + id (newest first). Catalog rows: title + '|' + the same.</summary>
    public static string RowKey(Fact fact) =>
        fact.Member is null ? fact.Title + TitleSeparator + RowKey(fact.EventTime, fact.Id) : RowKey(fact.EventTime, fact.Id);

    public static string RowKey(DateTimeOffset eventTime, string id) =>
        (DateTimeOffset.MaxValue.UtcTicks - eventTime.UtcTicks).ToString("D19", CultureInfo.InvariantCulture) + "_" + id;

    /// <summary>The row-key range [from, to) holding one title's catalog rows.</summary>
    public static (string From, string To) TitleRange(string title) => (title + TitleSeparator, title + (char)(TitleSeparator + 1));

    public static TableEntity ToEntity(Fact fact)
    {
        var entity = new TableEntity(fact.PartitionKey, RowKey(fact))
        {
            [FactId] = fact.Id,
            [Kind] = FactJson.KindName(fact.Kind),
            [EventTime] = fact.EventTime,
            [IngestTime] = fact.IngestTime,
            [SupersededAt] = Never,
        };
        if (fact.Member is not null) { entity[Member] = fact.Member; }
        if (fact.Title is not null) { entity[Title] = fact.Title; }
        if (fact.Value is { } value) { entity[Value] = value; }
        if (fact.Supersedes is not null) { entity[Supersedes] = fact.Supersedes; }
        if (fact.Attributes is not null) { entity[Attributes] = JsonSerializer.Serialize(fact.Attributes, FactJson.Options); }
        return entity;
    }

    public static ArchivedFact FromEntity(TableEntity e)
    {
        var kindName = e.GetString(Kind);
        var kind = kindName switch
        {
            "rating" => FactKind.Rating,
            "catalog" => FactKind.Catalog,
            "retraction" => FactKind.Retraction,
            _ => throw new InvalidDataException($"archive row {e.PartitionKey}/{e.RowKey} has unknown kind '{kindName}'"),
        };
        var attributesJson = e.GetString(Attributes);
        var fact = new Fact(
            e.GetString(FactId),
            kind,
            e.GetString(Member),
            e.GetString(Title),
            e.GetDouble(Value),
            e.GetDateTimeOffset(EventTime)!.Value,
            e.GetDateTimeOffset(IngestTime)!.Value,
            e.GetString(Supersedes),
            attributesJson is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(attributesJson, FactJson.Options));
        var supersededAt = e.GetDateTimeOffset(SupersededAt) is { } at && at < Never ? at : (DateTimeOffset?)null;
        return new ArchivedFact(fact, supersededAt, e.GetString(SupersededBy));
    }
}

/// <summary>A stored fact version with what the archive knows about its supersession.</summary>
public sealed record ArchivedFact(Fact Fact, DateTimeOffset? SupersededAt, string? SupersededBy)
{
    /// <summary>Whether this version was current for someone asking at <paramref name="asOf"/>.</summary>
    public bool IsCurrentAsOf(DateTimeOffset asOf) =>
        Fact.IngestTime <= asOf && (SupersededAt is null || SupersededAt > asOf) && Fact.Kind != FactKind.Retraction;
}
