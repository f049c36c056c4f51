using Serverless.Facts;

namespace Serverless.Archive;

/// <summary>How an archived fact version is shown to HTTP clients and written to exports.</summary>
public sealed record FactView(
    string Id,
    string Kind,
    string? Member,
    string? Title,
    double? Value,
    DateTimeOffset EventTime,
    DateTimeOffset IngestTime,
    string? Supersedes,
    IReadOnlyDictionary<string, string>? Attributes,
    DateTimeOffset? SupersededAt,
    string? SupersededBy)
{
    public static FactView From(ArchivedFact a) => new(
        a.Fact.Id, FactJson.KindName(a.Fact.Kind), a.Fact.Member, a.Fact.Title, a.Fact.Value, a.Fact.EventTime, a.Fact.IngestTime,
        a.Fact.Supersedes, a.Fact.Attributes, a.SupersededAt, a.SupersededBy);
}
