using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Serverless.Facts;

/// <summary>
/// Reads JSON into a type and says what was wrong in the caller's terms: the JSON field (its path)
/// and the rule it broke, never our .NET type names. Syntax errors name the line and byte; a value
/// of the wrong kind names the field and what it must be; with <see cref="Strict"/> options an
/// unknown field is refused by name with the allowed ones.
/// </summary>
public static class JsonShape
{
    /// <summary>The wire options refusing unknown fields (request bodies).</summary>
    public static readonly JsonSerializerOptions Strict = new(FactJson.Options)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Deserializes <paramref name="json"/>; on failure returns the message for a 400 or a dead letter.</summary>
    public static bool TryRead<T>(ReadOnlySpan<byte> json, JsonSerializerOptions options, out T? value, out string? error)
    {
        value = default;
        error = null;
        try
        {
            // Syntax first, so a shape error below is always about a field.
            using var document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
            if (Duplicate(document.RootElement, "$", options.PropertyNameCaseInsensitive) is { } duplicate)
            {
                error = $"field '{Cut(FieldName(duplicate))}' is given more than once";
                return false;
            }
        }
        catch (JsonException ex)
        {
            error = $"malformed JSON at line {(ex.LineNumber ?? 0) + 1}, byte {(ex.BytePositionInLine ?? 0) + 1}";
            return false;
        }

        try
        {
            value = JsonSerializer.Deserialize<T>(json, options);
            return true;
        }
        catch (JsonException ex)
        {
            error = Describe(ex, typeof(T), options);
            return false;
        }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            error = "the JSON body does not have the expected shape";
            return false;
        }
    }

    /// <summary>The path of the first member given twice in one object (which one wins would be a guess), or null.</summary>
    private static string? Duplicate(JsonElement element, string path, bool caseInsensitive)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            var names = new HashSet<string>(caseInsensitive ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);
            foreach (var property in element.EnumerateObject())
            {
                var child = $"{path}.{property.Name}";
                if (!names.Add(property.Name))
                {
                    return child;
                }

                if (Duplicate(property.Value, child, caseInsensitive) is { } inner)
                {
                    return inner;
                }
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            var i = 0;
            foreach (var item in element.EnumerateArray())
            {
                if (Duplicate(item, $"{path}[{i++}]", caseInsensitive) is { } inner)
                {
                    return inner;
                }
            }
        }

        return null;
    }

    /// <summary>What a deserialization failure means, in terms of the JSON: the field and its rule.</summary>
    public static string Describe(JsonException ex, Type root, JsonSerializerOptions options)
    {
        var path = ex.Path ?? "$";
        var (parent, last, type) = Resolve(root, path, options);
        var field = FieldName(path);
        if (type is null && parent is not null && last is not null)
        {
            var allowed = Properties(parent, options);
            return allowed.Count > 0
                ? $"unknown field '{Cut(field)}' (allowed: {string.Join(", ", allowed)})"
                : $"unknown field '{Cut(field)}'";
        }

        if (type is null || path == "$")
        {
            return path == "$" ? $"the body must be {Expected(root, options)}" : $"field '{Cut(field)}' has a value of the wrong kind";
        }

        return $"field '{Cut(field)}' must be {Expected(type, options)}";
    }

    /// <summary>What a value of a type looks like in JSON.</summary>
    public static string Expected(Type type, JsonSerializerOptions options)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(string)) { return "a string"; }
        if (t == typeof(bool)) { return "true or false"; }
        if (t == typeof(int) || t == typeof(long) || t == typeof(short)) { return "a whole number"; }
        if (t == typeof(double) || t == typeof(float) || t == typeof(decimal)) { return "a number"; }
        if (t == typeof(DateTimeOffset) || t == typeof(DateTime)) { return "a date and time in ISO 8601 with an offset (e.g. \"2018-09-01T00:00:00Z\")"; }
        if (t == typeof(TimeSpan)) { return "a duration as \"d.hh:mm:ss\" (e.g. \"1.00:00:00\")"; }
        if (t.IsEnum)
        {
            var policy = JsonNamingPolicy.CamelCase;
            return "one of " + string.Join(", ", Enum.GetNames(t).Select(n => $"\"{policy.ConvertName(n)}\""));
        }

        var info = options.GetTypeInfo(t);
        return info.Kind switch
        {
            JsonTypeInfoKind.Enumerable => $"an array of {Plural(Expected(info.ElementType!, options))}",
            JsonTypeInfoKind.Dictionary => $"an object whose values are {Plural(Expected(info.ElementType!, options))}",
            JsonTypeInfoKind.Object => Properties(t, options) is { Count: > 0 } names ? $"an object with the fields {string.Join(", ", names)}" : "an object",
            _ => "a JSON value",
        };
    }

    private static string Plural(string expected) => expected.StartsWith("a ", StringComparison.Ordinal) ? expected[2..] + "s" : expected;

    private static List<string> Properties(Type type, JsonSerializerOptions options)
    {
        var info = options.GetTypeInfo(type);
        return info.Kind == JsonTypeInfoKind.Object ? info.Properties.Select(p => p.Name).ToList() : [];
    }

    /// <summary>Walks a JSON path ($.a.b[0]['c']) through the type: the type owning the last segment, the segment, and the type at the path (null: no such field).</summary>
    private static (Type? Parent, string? Last, Type? Type) Resolve(Type root, string path, JsonSerializerOptions options)
    {
        Type? current = root;
        Type? parent = null;
        string? last = null;
        foreach (var (segment, isIndex) in Segments(path))
        {
            if (current is null)
            {
                return (parent, last, null);
            }

            var t = Nullable.GetUnderlyingType(current) ?? current;
            var info = options.GetTypeInfo(t);
            parent = t;
            last = segment;
            if (info.Kind is JsonTypeInfoKind.Enumerable or JsonTypeInfoKind.Dictionary)
            {
                current = info.ElementType;
                continue;
            }

            if (isIndex || info.Kind != JsonTypeInfoKind.Object)
            {
                return (parent, last, null);
            }

            var property = info.Properties.FirstOrDefault(p => string.Equals(p.Name, segment, options.PropertyNameCaseInsensitive ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal));
            current = property?.PropertyType;
        }

        return (parent, last, current);
    }

    private static IEnumerable<(string Segment, bool IsIndex)> Segments(string path)
    {
        var i = path.StartsWith('$') ? 1 : 0;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                var end = path.IndexOfAny(['.', '['], i + 1);
                end = end < 0 ? path.Length : end;
                yield return (path[(i + 1)..end], false);
                i = end;
            }
            else if (path[i] == '[' && i + 1 < path.Length && path[i + 1] == '\'')
            {
                var end = path.IndexOf("']", i + 2, StringComparison.Ordinal);
                end = end < 0 ? path.Length : end;
                yield return (path[(i + 2)..end], false);
                i = Math.Min(path.Length, end + 2);
            }
            else if (path[i] == '[')
            {
                var end = path.IndexOf(']', i);
                end = end < 0 ? path.Length : end;
                yield return (path[(i + 1)..end], true);
                i = Math.Min(path.Length, end + 1);
            }
            else
            {
                yield break;
            }
        }
    }

    /// <summary>The field as the caller wrote it: the path without the leading "$.".</summary>
    private static string FieldName(string path) => path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');

    private static string Cut(string s) => s.Length <= 60 ? s : s[..60] + "...";
}
