using System.Text.Json;
using Serverless.Facts;

namespace Serverless.Lumberjack;

/// <summary>
/// One scored candidate exactly as the online predictor saw it: the feature values it scored, the
/// model and feature config, and the watermark of the data it read (the newest ingest time visible
/// to it), so offline jobs can reproduce the vector and train on what was really served.
/// </summary>
public sealed record FeatureLogRecord(
    string LogId,
    DateTimeOffset RequestTime,
    string Member,
    string Title,
    int Position,
    string ModelVersion,
    string ConfigHash,
    float[] Features,
    float Score,
    DateTimeOffset Watermark,
    bool Fallback)
{
    public const int SchemaVersion = 1;
    public const int MaxFeatures = 512;

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(new Wire(SchemaVersion, this), FactJson.Options);

    private sealed record Wire(int SchemaVersion, FeatureLogRecord Record);

    /// <summary>Reads and validates one feature-log event; returns the reason when it is refused.</summary>
    public static (FeatureLogRecord? Record, string? Error) Parse(ReadOnlySpan<byte> payload)
    {
        if (payload.Length is 0 or > 64 * 1024)
        {
            return (null, $"payload size {payload.Length} outside 1..65536 bytes");
        }

        Wire? wire;
        try
        {
            wire = JsonSerializer.Deserialize<Wire>(payload, FactJson.Options);
        }
        catch (JsonException ex)
        {
            return (null, $"malformed JSON: {ex.Message}");
        }

        if (wire is null || wire.SchemaVersion != SchemaVersion || wire.Record is not { } r)
        {
            return (null, $"expected schemaVersion {SchemaVersion} with a record");
        }

        var error =
            FactValidator.KeyError("logId", r.LogId, FactValidator.MaxIdLength, required: true)
            ?? FactValidator.KeyError("member", r.Member, FactValidator.MaxKeyLength, required: true)
            ?? FactValidator.KeyError("title", r.Title, FactValidator.MaxKeyLength, required: true)
            ?? FactValidator.KeyError("modelVersion", r.ModelVersion, FactValidator.MaxKeyLength, required: true)
            ?? FactValidator.KeyError("configHash", r.ConfigHash, FactValidator.MaxKeyLength, required: true)
            ?? (r.Position is < 0 or > 10_000 ? "position outside 0..10000" : null)
            ?? (r.Features is null || r.Features.Length is 0 or > MaxFeatures ? $"features must hold 1..{MaxFeatures} values" : null)
            ?? (r.Features!.Any(f => !float.IsFinite(f)) || !float.IsFinite(r.Score) ? "features and score must be finite" : null)
            ?? (r.Watermark > r.RequestTime ? "watermark is after the request time" : null)
            ?? (r.RequestTime.Year is < 1990 or > 9000 ? "requestTime out of range" : null);
        return error is null ? (r, null) : (null, error);
    }
}

/// <summary>Chooses the members whose requests are logged: a stable hash per member, so a member's whole session is in or out.</summary>
public static class FeatureLogSampler
{
    public static bool IsSampled(string member, double rate)
    {
        if (rate >= 1) { return true; }
        if (rate <= 0) { return false; }
        var hash = 2166136261u;
        foreach (var c in member)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash % 10_000 < rate * 10_000;
    }
}
