using System.Text.Json;
using Serverless.Facts;

namespace Serverless.Lumberjack;

/// <summary>
/// One scored candidate exactly as the online predictor saw it: the feature values it scored, the
/// model and feature config, and the watermark of the data it read (the newest ingest time visible
/// to it), so offline jobs can reproduce the vector and train on what was really served.
/// <see cref="HistoryWatermark"/>: the newest ingest time among the member facts serving's history
/// read included (<see cref="NoHistory"/> when it included none); the skew meter recomputes the
/// history as of it, so facts that were in flight at the read (ingested before
/// <see cref="Watermark"/> but not yet in the archive) do not count as skew. Null in logs written
/// before it existed: the meter then reads as of <see cref="Watermark"/>.
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
    bool Fallback,
    DateTimeOffset? HistoryWatermark = null)
{
    public const int MaxFeatures = 512;

    /// <summary>The history watermark of a request whose member history was empty: before any fact.</summary>
    public static readonly DateTimeOffset NoHistory = DateTimeOffset.UnixEpoch;

    /// <summary>The moment the skew meter reads the member's history as of: the history watermark, else (older logs) the watermark.</summary>
    public DateTimeOffset HistoryAsOf => HistoryWatermark ?? Watermark;
}

/// <summary>One scored candidate on the wire: features as little-endian float32 bytes (base64 in JSON).</summary>
public sealed record FeatureLogItem(string Title, int Position, float Score, byte[] Features);

/// <summary>
/// The feature-log event: one per logged request, the request's fields once and one item per scored
/// candidate, so serving serializes little (floats as raw bytes) and sends one event, not a hundred.
/// The feature-log trigger expands it into one <see cref="FeatureLogRecord"/> row per candidate.
/// </summary>
public sealed record FeatureLogEvent(
    int SchemaVersion,
    string LogId,
    DateTimeOffset RequestTime,
    string Member,
    string ModelVersion,
    string ConfigHash,
    DateTimeOffset Watermark,
    bool Fallback,
    IReadOnlyList<FeatureLogItem> Items,
    DateTimeOffset? HistoryWatermark = null)
{
    public const int CurrentSchemaVersion = 2;
    public const int MaxItems = 1000;
    public const int MaxBytes = 1024 * 1024;

    /// <summary>One request's records (same log id, member, model, time) as one event.</summary>
    public static FeatureLogEvent From(IReadOnlyList<FeatureLogRecord> records)
    {
        var first = records[0];
        return new FeatureLogEvent(CurrentSchemaVersion, first.LogId, first.RequestTime, first.Member, first.ModelVersion, first.ConfigHash, first.Watermark, first.Fallback,
            records.Select(r => new FeatureLogItem(r.Title, r.Position, r.Score, System.Runtime.InteropServices.MemoryMarshal.AsBytes(r.Features.AsSpan()).ToArray())).ToList(),
            first.HistoryWatermark);
    }

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, FactJson.Options);

    /// <summary>
    /// Writes a logged request as this event's JSON without building the event first (the serving
    /// path's background writer: no per-candidate objects, floats written straight from the pooled rows).
    /// </summary>
    public static void Write(Utf8JsonWriter w, LoggedRequest r)
    {
        w.WriteStartObject();
        w.WriteNumber("schemaVersion", CurrentSchemaVersion);
        w.WriteString("logId", r.LogId);
        w.WriteString("requestTime", r.RequestTime);
        w.WriteString("member", r.Member);
        w.WriteString("modelVersion", r.ModelVersion);
        w.WriteString("configHash", r.ConfigHash);
        w.WriteString("watermark", r.Watermark);
        w.WriteBoolean("fallback", r.Fallback);
        if (r.HistoryWatermark is { } historyWatermark)
        {
            w.WriteString("historyWatermark", historyWatermark);
        }

        w.WriteStartArray("items");
        for (var position = 0; position < r.Count; position++)
        {
            w.WriteStartObject();
            w.WriteString("title", r.Title(position));
            w.WriteNumber("position", position);
            w.WriteNumber("score", r.Score(position));
            w.WriteBase64String("features", System.Runtime.InteropServices.MemoryMarshal.AsBytes(r.Features(position)));
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }


    /// <summary>
    /// Reads and validates one feature-log event into rows; returns the reason when it is refused.
    /// Never throws for a bad payload: an event that would make it throw is refused with the reason,
    /// so one poison event is dead-lettered instead of blocking its partition with endless retries.
    /// </summary>
    public static (IReadOnlyList<FeatureLogRecord>? Records, string? Error) Parse(ReadOnlySpan<byte> payload)
    {
        var (_, records, error) = Read(payload, collect: true);
        return (records, error);
    }

    /// <summary>
    /// Validates one feature-log event exactly as <see cref="Parse"/> does without building its rows
    /// (the landing keeps the event's bytes): its header, or the reason it is refused.
    /// </summary>
    public static (FeatureLogHeader? Header, string? Error) Check(ReadOnlySpan<byte> payload) =>
        CanonicalFeatureLogReader.TryAccept(payload) is { } header ? (header, null) : CheckWithSerializer(payload);

    /// <summary>The authoritative check (through the serializer), used for every event the fast path does not accept.</summary>
    internal static (FeatureLogHeader? Header, string? Error) CheckWithSerializer(ReadOnlySpan<byte> payload)
    {
        var (header, _, error) = Read(payload, collect: false);
        return (header, error);
    }

    private static (FeatureLogHeader? Header, IReadOnlyList<FeatureLogRecord>? Records, string? Error) Read(ReadOnlySpan<byte> payload, bool collect)
    {
        try
        {
            return ReadCore(payload, collect);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return (null, null, $"unreadable event ({ex.GetType().Name}: {ex.Message})");
        }
    }

    private static (FeatureLogHeader? Header, IReadOnlyList<FeatureLogRecord>? Records, string? Error) ReadCore(ReadOnlySpan<byte> payload, bool collect)
    {
        if (payload.Length is 0 or > MaxBytes)
        {
            return (null, null, $"payload size {payload.Length} outside 1..{MaxBytes} bytes");
        }

        FeatureLogEvent? e;
        try
        {
            e = JsonSerializer.Deserialize<FeatureLogEvent>(payload, FactJson.Options);
        }
        catch (JsonException ex)
        {
            return (null, null, $"malformed JSON: {ex.Message}");
        }

        if (e is null || e.SchemaVersion != CurrentSchemaVersion)
        {
            return (null, null, $"expected schemaVersion {CurrentSchemaVersion}");
        }

        var error =
            FactValidator.KeyError("logId", e.LogId, FactValidator.MaxIdLength, required: true)
            ?? FactValidator.KeyError("member", e.Member, FactValidator.MaxKeyLength, required: true)
            ?? FactValidator.KeyError("modelVersion", e.ModelVersion, FactValidator.MaxKeyLength, required: true)
            ?? FactValidator.KeyError("configHash", e.ConfigHash, FactValidator.MaxKeyLength, required: true)
            ?? (e.Watermark > e.RequestTime ? "watermark is after the request time" : null)
            ?? (e.HistoryWatermark > e.Watermark ? "historyWatermark is after the watermark" : null)
            ?? (e.RequestTime.Year is < 1990 or > 9000 ? "requestTime out of range" : null)
            ?? (e.Items is null || e.Items.Count is 0 or > MaxItems ? $"items must hold 1..{MaxItems} candidates" : null);
        if (error is not null)
        {
            return (null, null, error);
        }

        var records = collect ? new List<FeatureLogRecord>(e.Items!.Count) : null;
        foreach (var item in e.Items!)
        {
            if (item is null)
            {
                return (null, null, "items must not hold null");
            }

            if (FactValidator.KeyError("title", item.Title, FactValidator.MaxKeyLength, required: true) is { } titleError)
            {
                return (null, null, titleError);
            }

            if (item.Position is < 0 or > MaxItems || item.Features is null || item.Features.Length % 4 != 0
                || item.Features.Length / 4 is 0 or > FeatureLogRecord.MaxFeatures)
            {
                return (null, null, $"item '{item.Title}': position 0..{MaxItems} and 1..{FeatureLogRecord.MaxFeatures} float32 features are required");
            }

            var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(item.Features);
            if (!float.IsFinite(item.Score) || !AllFinite(values))
            {
                return (null, null, $"item '{item.Title}': features and score must be finite");
            }

            records?.Add(new FeatureLogRecord(e.LogId, e.RequestTime, e.Member, item.Title, item.Position, e.ModelVersion, e.ConfigHash, values.ToArray(), item.Score, e.Watermark, e.Fallback, e.HistoryWatermark));
        }

        return (new FeatureLogHeader(e.LogId, e.Member, e.RequestTime, e.ConfigHash, e.Items.Count), records, null);
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (var v in values)
        {
            if (!float.IsFinite(v))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>What a valid feature-log event says of itself: enough to land and index it.</summary>
public sealed record FeatureLogHeader(string LogId, string Member, DateTimeOffset RequestTime, string ConfigHash, int Items);

/// <summary>Chooses the members whose requests are logged: a stable hash per member, so a member's whole session is in or out.</summary>
public static class FeatureLogSampler
{
    public static bool IsSampled(string member, double rate)
    {
        if (rate >= 1) { return true; }
        if (rate <= 0) { return false; }
        return StableHash(member) % 10_000 < rate * 10_000;
    }

    /// <summary>FNV-1a over the string's UTF-16 code units: the same value on every machine and run.</summary>
    public static uint StableHash(string value)
    {
        var hash = 2166136261u;
        foreach (var c in value)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash;
    }
}
