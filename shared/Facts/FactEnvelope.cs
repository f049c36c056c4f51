using System.Text.Json;
using System.Text.Json.Serialization;

namespace Serverless.Facts;

/// <summary>
/// The wire form of a fact on the facts hub (JSON, camelCase). Producers do not send ingest time:
/// the archive stamps it from the hub's enqueued time.
/// </summary>
public sealed record FactEnvelope
{
    public const int CurrentSchemaVersion = 1;

    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    public string? Id { get; init; }
    public string? Kind { get; init; }
    public string? Member { get; init; }
    public string? Title { get; init; }
    public double? Value { get; init; }
    public DateTimeOffset? EventTime { get; init; }
    public string? Supersedes { get; init; }
    public Dictionary<string, string>? Attributes { get; init; }

    public static FactEnvelope From(Fact fact) => new()
    {
        Id = fact.Id,
        Kind = FactJson.KindName(fact.Kind),
        Member = fact.Member,
        Title = fact.Title,
        Value = fact.Value,
        EventTime = fact.EventTime,
        Supersedes = fact.Supersedes,
        Attributes = fact.Attributes is null ? null : new Dictionary<string, string>(fact.Attributes),
    };
}

/// <summary>Shared JSON settings for everything the platform puts on the wire.</summary>
public static class FactJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static string KindName(FactKind kind) => kind switch
    {
        FactKind.Rating => "rating",
        FactKind.Catalog => "catalog",
        FactKind.Retraction => "retraction",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown fact kind"),
    };

    public static byte[] Serialize(FactEnvelope envelope) => JsonSerializer.SerializeToUtf8Bytes(envelope, Options);
}
