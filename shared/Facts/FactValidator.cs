using System.Text.Json;

namespace Serverless.Facts;

/// <summary>Limits on what the facts hub accepts.</summary>
public sealed class FactLimits
{
    /// <summary>Largest accepted event body.</summary>
    public int MaxPayloadBytes { get; init; } = 16 * 1024;

    /// <summary>How far an event time may lie after the ingest time (clock skew between producers).</summary>
    public TimeSpan MaxFutureSkew { get; init; } = TimeSpan.FromDays(1);

    /// <summary>Earliest plausible event time.</summary>
    public DateTimeOffset MinEventTime { get; init; } = new(1990, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public int MaxAttributes { get; init; } = 16;
    public int MaxAttributeKeyLength { get; init; } = 64;
    public int MaxAttributeValueLength { get; init; } = 1024;
}

/// <summary>The outcome of reading one event: a fact, or the reason it was refused.</summary>
public readonly record struct FactParseResult(Fact? Fact, string? Error)
{
    public bool IsValid => Fact is not null;

    public static FactParseResult Ok(Fact fact) => new(fact, null);

    public static FactParseResult Fail(string error) => new(null, error);
}

/// <summary>
/// Turns raw facts-hub payloads into validated facts. Everything from outside is checked here:
/// size, JSON shape, schema version, kind, identifiers (restricted to characters that are safe as
/// Table keys and in filters), time range, value range and attributes.
/// </summary>
public sealed class FactValidator(FactLimits limits)
{
    public const int MaxIdLength = 128;
    public const int MaxKeyLength = 64;

    public FactLimits Limits => limits;

    public FactParseResult Parse(ReadOnlySpan<byte> payload, DateTimeOffset ingestTime)
    {
        if (payload.Length == 0)
        {
            return FactParseResult.Fail("empty payload");
        }

        if (payload.Length > limits.MaxPayloadBytes)
        {
            return FactParseResult.Fail($"payload too large: {payload.Length} bytes > {limits.MaxPayloadBytes}");
        }

        if (!JsonShape.TryRead<FactEnvelope>(payload, FactJson.Options, out var envelope, out var shapeError))
        {
            return FactParseResult.Fail(shapeError!.StartsWith("malformed JSON", StringComparison.Ordinal) ? shapeError : $"malformed JSON: {shapeError}");
        }

        if (envelope is null)
        {
            return FactParseResult.Fail("malformed JSON: null");
        }

        try
        {
            return Validate(envelope, ingestTime);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Total: a shape the checks did not foresee is refused (dead-lettered), never retried forever.
            return FactParseResult.Fail("unreadable fact: a field has a value the validation does not accept");
        }
    }

    public FactParseResult Validate(FactEnvelope e, DateTimeOffset ingestTime)
    {
        if (e.SchemaVersion != FactEnvelope.CurrentSchemaVersion)
        {
            return FactParseResult.Fail($"unsupported schemaVersion {e.SchemaVersion} (expected {FactEnvelope.CurrentSchemaVersion})");
        }

        if (KeyError("id", e.Id, MaxIdLength, required: true) is { } idError)
        {
            return FactParseResult.Fail(idError);
        }

        if (!TryParseKind(e.Kind, out var kind))
        {
            return FactParseResult.Fail($"unknown kind '{Truncate(e.Kind)}' (expected rating, catalog or retraction)");
        }

        if (KeyError("member", e.Member, MaxKeyLength, required: false) is { } memberError)
        {
            return FactParseResult.Fail(memberError);
        }

        if (KeyError("title", e.Title, MaxKeyLength, required: false) is { } titleError)
        {
            return FactParseResult.Fail(titleError);
        }

        if (KeyError("supersedes", e.Supersedes, MaxIdLength, required: false) is { } supersedesError)
        {
            return FactParseResult.Fail(supersedesError);
        }

        if (e.Supersedes is not null && e.Supersedes == e.Id)
        {
            return FactParseResult.Fail("a fact cannot supersede itself");
        }

        if (e.EventTime is not { } eventTime)
        {
            return FactParseResult.Fail("eventTime is required");
        }

        if (eventTime < limits.MinEventTime)
        {
            return FactParseResult.Fail($"eventTime {eventTime:O} is before {limits.MinEventTime:O}");
        }

        if (eventTime > ingestTime + limits.MaxFutureSkew)
        {
            return FactParseResult.Fail($"eventTime {eventTime:O} is more than {limits.MaxFutureSkew} after ingest time {ingestTime:O}");
        }

        if (AttributesError(e.Attributes) is { } attributesError)
        {
            return FactParseResult.Fail(attributesError);
        }

        var shapeError = kind switch
        {
            FactKind.Rating => RatingError(e),
            FactKind.Catalog => CatalogError(e),
            FactKind.Retraction => RetractionError(e),
            _ => "unknown kind",
        };
        if (shapeError is not null)
        {
            return FactParseResult.Fail(shapeError);
        }

        return FactParseResult.Ok(new Fact(
            e.Id!, kind, e.Member, e.Title, e.Value, eventTime.ToUniversalTime(), ingestTime.ToUniversalTime(), e.Supersedes,
            e.Attributes is { Count: > 0 } attributes ? attributes : null));
    }

    private static string? RatingError(FactEnvelope e)
    {
        if (e.Member is null || e.Title is null)
        {
            return "a rating needs member and title";
        }

        if (e.Value is not { } v || !double.IsFinite(v))
        {
            return "a rating needs a finite value";
        }

        return v is < 0.5 or > 5.0 || Math.Abs(v * 2 - Math.Round(v * 2)) > 1e-9
            ? $"rating value {v} is outside 0.5..5 in half stars"
            : null;
    }

    private static string? CatalogError(FactEnvelope e)
    {
        if (e.Title is null)
        {
            return "a catalog entry needs a title";
        }

        if (e.Member is not null)
        {
            return "a catalog entry has no member";
        }

        return e.Attributes is null || !e.Attributes.TryGetValue("name", out var name) || string.IsNullOrWhiteSpace(name)
            ? "a catalog entry needs attributes.name"
            : null;
    }

    private static string? RetractionError(FactEnvelope e)
    {
        if (e.Supersedes is null)
        {
            return "a retraction needs supersedes (the id of the fact it withdraws)";
        }

        return e.Member is null && e.Title is null ? "a retraction needs the member or title of the fact it withdraws" : null;
    }

    private string? AttributesError(Dictionary<string, string>? attributes)
    {
        if (attributes is null)
        {
            return null;
        }

        if (attributes.Count > limits.MaxAttributes)
        {
            return $"too many attributes: {attributes.Count} > {limits.MaxAttributes}";
        }

        foreach (var (key, value) in attributes)
        {
            if (key.Length == 0 || key.Length > limits.MaxAttributeKeyLength)
            {
                return $"attribute key length must be 1..{limits.MaxAttributeKeyLength}";
            }

            if (value is null || value.Length > limits.MaxAttributeValueLength)
            {
                return $"attribute '{Truncate(key)}' must be a string of at most {limits.MaxAttributeValueLength} characters";
            }
        }

        return null;
    }

    /// <summary>Checks an identifier: 1..max characters of [A-Za-z0-9_.:-].</summary>
    public static string? KeyError(string field, string? value, int maxLength, bool required)
    {
        if (value is null)
        {
            return required ? $"{field} is required" : null;
        }

        if (value.Length == 0 || value.Length > maxLength)
        {
            return $"{field} must be 1..{maxLength} characters";
        }

        foreach (var c in value)
        {
            if (!IsKeyChar(c))
            {
                return $"{field} '{Truncate(value)}' has a character outside [A-Za-z0-9_.:-]";
            }
        }

        return null;
    }

    public static bool IsKeyChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ':';

    private static bool TryParseKind(string? kind, out FactKind result)
    {
        switch (kind)
        {
            case "rating": result = FactKind.Rating; return true;
            case "catalog": result = FactKind.Catalog; return true;
            case "retraction": result = FactKind.Retraction; return true;
            default: result = default; return false;
        }
    }

    private static string Truncate(string? s) => s is null ? "(null)" : s.Length <= 40 ? s : s[..40] + "...";
}
