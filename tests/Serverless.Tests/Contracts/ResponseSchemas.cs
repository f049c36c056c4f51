using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace Serverless.Tests.Contracts;

/// <summary>
/// Checks a response body against the schema docs/openapi.json documents for its operation and status,
/// with a real JSON Schema validator (JsonSchema.Net). OpenAPI 3.0's schema dialect is turned into
/// JSON Schema 2020-12 first: <c>nullable</c> becomes a "null" type (or an <c>anyOf</c> with null),
/// references to <c>#/components/schemas</c> point at <c>$defs</c>, a boolean <c>exclusiveMinimum</c>
/// becomes the number, and formats other than <c>date-time</c> (int32, int64, double: annotations) are
/// dropped, while <c>date-time</c> is checked. An object schema that lists its properties is closed
/// (unless it says otherwise with <c>additionalProperties</c>): a property the document does not
/// name is an error, so the document stays a complete description of what the app sends.
/// </summary>
public static class ResponseSchemas
{
    private static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.List, RequireFormatValidation = true };

    /// <summary>
    /// The schema errors of <paramref name="body"/> as the answer of <paramref name="method"/>
    /// <paramref name="path"/> with <paramref name="status"/> (empty: it matches); null when the
    /// document gives that answer no JSON schema.
    /// </summary>
    public static IReadOnlyList<string>? Errors(JsonObject doc, string method, string path, int status, string body)
    {
        ArgumentNullException.ThrowIfNull(doc);
        var operation = ApiDocuments.Match(doc, method, path) ?? throw new InvalidOperationException($"{method} {path} is no operation of the document");
        var response = operation.Operation["responses"]?[status.ToString(System.Globalization.CultureInfo.InvariantCulture)];
        if (response?["$ref"] is JsonValue reference)
        {
            response = doc["components"]!["responses"]![((string)reference!).Split('/')[^1]];
        }

        var content = response?["content"]?.AsObject();
        var schema = content?.FirstOrDefault(c => c.Key.EndsWith("json", StringComparison.Ordinal)).Value?["schema"];
        if (schema is null)
        {
            return null;
        }

        var root = Convert(schema)!.AsObject();
        root["$schema"] = "https://json-schema.org/draft/2020-12/schema";
        root["$defs"] = new JsonObject(doc["components"]!["schemas"]!.AsObject().Select(s => KeyValuePair.Create(s.Key, Convert(s.Value))));
        var built = JsonSchema.FromText(root.ToJsonString(), new BuildOptions { SchemaRegistry = new SchemaRegistry() }, new Uri($"https://contract.test/{Guid.NewGuid():N}"));
        using var instance = JsonDocument.Parse(body);
        var result = built.Evaluate(instance.RootElement, Evaluation);
        return result.IsValid
            ? []
            : (result.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} {e.Key}: {e.Value}")).Distinct().ToList();
    }

    /// <summary>An OpenAPI 3.0 schema as JSON Schema 2020-12 (a copy).</summary>
    public static JsonNode? Convert(JsonNode? node)
    {
        switch (node)
        {
            case JsonArray array:
                return new JsonArray(array.Select(Convert).ToArray());
            case JsonObject o:
                var copy = new JsonObject();
                foreach (var (key, value) in o)
                {
                    switch (key)
                    {
                        case "nullable" or "example":
                            break;
                        case "$ref":
                            copy[key] = ((string)value!).Replace("#/components/schemas/", "#/$defs/", StringComparison.Ordinal);
                            break;
                        case "format" when (string?)value != "date-time":
                            break;
                        case "exclusiveMinimum" when value is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False:
                            if (v.GetValueKind() == JsonValueKind.True)
                            {
                                copy["exclusiveMinimum"] = o["minimum"]?.DeepClone();
                            }

                            break;
                        case "minimum" when o["exclusiveMinimum"] is JsonValue e && e.GetValueKind() == JsonValueKind.True:
                            break;
                        case "properties" or "$defs":
                            copy[key] = new JsonObject(value!.AsObject().Select(p => KeyValuePair.Create(p.Key, Convert(p.Value))));
                            break;
                        default:
                            copy[key] = Convert(value);
                            break;
                    }
                }

                if (copy["properties"] is not null && copy["additionalProperties"] is null)
                {
                    copy["additionalProperties"] = false;
                }

                if ((bool?)o["nullable"] == true)
                {
                    if (copy["type"] is JsonValue type)
                    {
                        copy["type"] = new JsonArray((string)type!, "null");
                        if (copy["enum"] is JsonArray values)
                        {
                            values.Add(null);
                        }
                    }
                    else
                    {
                        return new JsonObject { ["anyOf"] = new JsonArray(copy, new JsonObject { ["type"] = "null" }) };
                    }
                }

                return copy;
            default:
                return node?.DeepClone();
        }
    }
}
