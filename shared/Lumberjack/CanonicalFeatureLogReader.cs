using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using Serverless.Facts;

namespace Serverless.Lumberjack;

/// <summary>
/// The landing's fast path: accepts a feature-log event in the shape serving writes
/// (<see cref="FeatureLogEvent.Write"/>: each member once, exact names, numbers as numbers, strings
/// without escapes) in one forward pass over its bytes, with no object per candidate.
/// It only ever accepts: anything it does not recognise, and anything it would refuse, returns null
/// and goes to the serializer-based check, which stays the single authority for refusals and their
/// reasons. An event it accepts is one the serializer-based check accepts with the same header
/// (FeatureLogEventReaderTests compares the two on valid and broken events).
/// Its methods are compiled optimized at once (<see cref="MethodImplOptions.AggressiveOptimization"/>):
/// a new instance's first batches would otherwise run them as unoptimized code, then through
/// on-stack replacement and instrumented tiers (profiled in the rank benchmark's cold landing,
/// unoptimized field matching alone was ~16% of validation). Base64 stays the framework's
/// vectorized decoder: a plain loop of our own avoided its unoptimized first calls but cost ~25%
/// more validation CPU once warm, and a landing instance runs warm.
/// </summary>
internal static class CanonicalFeatureLogReader
{
    private const int Schema = 1, LogId = 2, RequestTime = 4, Member = 8, ModelVersion = 16, ConfigHash = 32, Watermark = 64, Fallback = 128, Items = 256, HistoryWatermark = 512;

    /// <summary>The fields every event has (<c>historyWatermark</c> is optional: older events have none).</summary>
    private const int AllFields = 511;
    private const int Title = 1, Position = 2, Score = 4, Features = 8;
    private const int AllItemFields = 15;

    public static FeatureLogHeader? TryAccept(ReadOnlySpan<byte> payload)
    {
        if (payload.Length is 0 or > FeatureLogEvent.MaxBytes)
        {
            return null;
        }

        try
        {
            return Accept(payload);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static FeatureLogHeader? Accept(ReadOnlySpan<byte> payload)
    {
        var reader = new Utf8JsonReader(payload);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return null;
        }

        var seen = 0;
        string? logId = null, member = null, configHash = null;
        DateTimeOffset requestTime = default, watermark = default;
        DateTimeOffset? historyWatermark = null;
        var items = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueIsEscaped)
            {
                return null;
            }

            var field = FieldOf(reader.ValueSpan);
            if (field == 0 || (seen & field) != 0 || !reader.Read())
            {
                return null;
            }

            seen |= field;
            switch (field)
            {
                case Schema:
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var schema) || schema != FeatureLogEvent.CurrentSchemaVersion) { return null; }
                    break;
                case LogId:
                    if ((logId = Key(ref reader, FactValidator.MaxIdLength)) is null) { return null; }
                    break;
                case Member:
                    if ((member = Key(ref reader, FactValidator.MaxKeyLength)) is null) { return null; }
                    break;
                case ModelVersion:
                    if (!IsKey(ref reader, FactValidator.MaxKeyLength)) { return null; }
                    break;
                case ConfigHash:
                    if ((configHash = Key(ref reader, FactValidator.MaxKeyLength)) is null) { return null; }
                    break;
                case RequestTime:
                    if (reader.TokenType != JsonTokenType.String || !reader.TryGetDateTimeOffset(out requestTime)) { return null; }
                    break;
                case Watermark:
                    if (reader.TokenType != JsonTokenType.String || !reader.TryGetDateTimeOffset(out watermark)) { return null; }
                    break;
                case HistoryWatermark:
                    if (reader.TokenType != JsonTokenType.String || !reader.TryGetDateTimeOffset(out var hw)) { return null; }
                    historyWatermark = hw;
                    break;
                case Fallback:
                    if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False)) { return null; }
                    break;
                case Items:
                    if (reader.TokenType != JsonTokenType.StartArray || (items = ReadItems(ref reader)) == 0) { return null; }
                    break;
            }
        }

        // The object ends here and nothing follows it.
        if (reader.TokenType != JsonTokenType.EndObject || (seen & AllFields) != AllFields || reader.Read())
        {
            return null;
        }

        if (watermark > requestTime || historyWatermark > watermark || requestTime.Year is < 1990 or > 9000)
        {
            return null;
        }

        return new FeatureLogHeader(logId!, member!, requestTime, configHash!, items);
    }

    /// <summary>The items array (reader on its start): the count of valid items, or 0 to hand over to the serializer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ReadItems(ref Utf8JsonReader reader)
    {
        Span<byte> features = stackalloc byte[(FeatureLogRecord.MaxFeatures * 4) + 4];
        var count = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            if (++count > FeatureLogEvent.MaxItems)
            {
                return 0;
            }

            var seen = 0;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueIsEscaped)
                {
                    return 0;
                }

                var field = ItemFieldOf(reader.ValueSpan);
                if (field == 0 || (seen & field) != 0 || !reader.Read())
                {
                    return 0;
                }

                seen |= field;
                var ok = field switch
                {
                    Title => IsKey(ref reader, FactValidator.MaxKeyLength),
                    Position => reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var position) && position is >= 0 and <= FeatureLogEvent.MaxItems,
                    Score => reader.TokenType == JsonTokenType.Number && IsFiniteSingle(ref reader),
                    _ => AreFeatures(ref reader, features),
                };
                if (!ok)
                {
                    return 0;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || seen != AllItemFields)
            {
                return 0;
            }
        }

        return reader.TokenType == JsonTokenType.EndArray ? count : 0;
    }

    /// <summary>
    /// Whether a number token is a finite float32, without parsing it when it cannot be anything else:
    /// the reader has checked its grammar, and a number without an exponent written in fewer than 39
    /// characters is below 10^38, inside float32's range (~3.4 x 10^38). Others are parsed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool IsFiniteSingle(ref Utf8JsonReader reader)
    {
        if (!reader.HasValueSequence && reader.ValueSpan.Length < 39 && reader.ValueSpan.IndexOfAny((byte)'e', (byte)'E') < 0)
        {
            return true;
        }

        return reader.TryGetSingle(out var value) && float.IsFinite(value);
    }

    /// <summary>1..MaxFeatures finite float32 values as unescaped base64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool AreFeatures(ref Utf8JsonReader reader, scoped Span<byte> buffer)
    {
        if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || reader.HasValueSequence)
        {
            return false;
        }

        var base64 = reader.ValueSpan;
        if (Base64.DecodeFromUtf8(base64, buffer, out var consumed, out var written) != System.Buffers.OperationStatus.Done || consumed != base64.Length
            || written % 4 != 0 || written / 4 is 0 or > FeatureLogRecord.MaxFeatures)
        {
            return false;
        }

        foreach (var v in MemoryMarshal.Cast<byte, float>(buffer[..written]))
        {
            if (!float.IsFinite(v))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A key string (1..max characters of [A-Za-z0-9_.:-]) read without allocating.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool IsKey(ref Utf8JsonReader reader, int maxLength)
    {
        if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || reader.HasValueSequence)
        {
            return false;
        }

        var raw = reader.ValueSpan;
        if (raw.Length == 0 || raw.Length > maxLength)
        {
            return false;
        }

        foreach (var b in raw)
        {
            if (b >= 0x80 || !FactValidator.IsKeyChar((char)b))
            {
                return false;
            }
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static string? Key(ref Utf8JsonReader reader, int maxLength) => IsKey(ref reader, maxLength) ? reader.GetString() : null;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int FieldOf(ReadOnlySpan<byte> name) => name switch
    {
        _ when name.SequenceEqual("schemaVersion"u8) => Schema,
        _ when name.SequenceEqual("logId"u8) => LogId,
        _ when name.SequenceEqual("requestTime"u8) => RequestTime,
        _ when name.SequenceEqual("member"u8) => Member,
        _ when name.SequenceEqual("modelVersion"u8) => ModelVersion,
        _ when name.SequenceEqual("configHash"u8) => ConfigHash,
        _ when name.SequenceEqual("watermark"u8) => Watermark,
        _ when name.SequenceEqual("fallback"u8) => Fallback,
        _ when name.SequenceEqual("historyWatermark"u8) => HistoryWatermark,
        _ when name.SequenceEqual("items"u8) => Items,
        _ => 0,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ItemFieldOf(ReadOnlySpan<byte> name) => name switch
    {
        _ when name.SequenceEqual("title"u8) => Title,
        _ when name.SequenceEqual("position"u8) => Position,
        _ when name.SequenceEqual("score"u8) => Score,
        _ when name.SequenceEqual("features"u8) => Features,
        _ => 0,
    };
}
