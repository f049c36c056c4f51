using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Serverless.Tests.Infrastructure;

/// <summary>
/// Reads a compiled ARM template (the output of <c>bicep build --stdout</c>): resources in both the
/// array form and the symbolic-name form (languageVersion 2.0), nested module deployments, and the
/// few expression shapes needed to follow a value back to a literal, a variable or a parameter default.
/// </summary>
internal static partial class ArmTemplate
{
    public const string DeploymentType = "Microsoft.Resources/deployments";

    public static IEnumerable<JsonObject> Resources(JsonObject template) =>
        template["resources"] switch
        {
            JsonArray list => list.OfType<JsonObject>(),
            JsonObject symbolic => symbolic.Select(p => p.Value).OfType<JsonObject>(),
            _ => [],
        };

    public static string TypeOf(JsonObject resource) => resource["type"]?.GetValue<string>() ?? "";

    public static bool IsExisting(JsonObject resource) =>
        resource["existing"] is JsonValue value && value.GetValueKind() == JsonValueKind.True;

    public static JsonObject? NestedTemplate(JsonObject resource) =>
        TypeOf(resource) == DeploymentType ? resource["properties"]?["template"] as JsonObject : null;

    /// <summary>Every resource this template deploys (not <c>existing</c> references), modules included.</summary>
    public static IEnumerable<JsonObject> DeployedResources(JsonObject template)
    {
        foreach (var resource in Resources(template))
        {
            if (NestedTemplate(resource) is { } nested)
            {
                foreach (var inner in DeployedResources(nested))
                {
                    yield return inner;
                }
            }
            else if (!IsExisting(resource))
            {
                yield return resource;
            }
        }
    }

    public static IEnumerable<JsonObject> DeployedResources(JsonObject template, string type) =>
        DeployedResources(template).Where(r => string.Equals(TypeOf(r), type, StringComparison.OrdinalIgnoreCase));

    /// <summary>The top-level module deployments whose template deploys a resource of the given type.</summary>
    public static IReadOnlyList<JsonObject> ModulesDeploying(JsonObject root, string type) =>
        Resources(root)
            .Where(r => NestedTemplate(r) is { } nested && DeployedResources(nested, type).Any())
            .ToList();

    /// <summary>The value a module deployment passes for one of its parameters, resolved in the root template.</summary>
    public static JsonNode? ModuleParameter(JsonObject root, JsonObject module, string parameter) =>
        Resolve(root, module["properties"]?["parameters"]?[parameter]?["value"]);

    /// <summary>
    /// Follows <c>[variables('x').a.b]</c> and <c>[parameters('x')]</c> (to its default value);
    /// anything else is returned as it is.
    /// </summary>
    public static JsonNode? Resolve(JsonObject root, JsonNode? value)
    {
        if (value is not JsonValue scalar || scalar.GetValueKind() != JsonValueKind.String)
        {
            return value;
        }

        var text = scalar.GetValue<string>();
        if (VariableReference().Match(text) is { Success: true } variable)
        {
            JsonNode? node = root["variables"]?[variable.Groups["name"].Value];
            foreach (var property in variable.Groups["path"].Value.Split('.', StringSplitOptions.RemoveEmptyEntries))
            {
                node = node?[property];
            }

            return Resolve(root, node);
        }

        if (ParameterReference().Match(text) is { Success: true } parameter)
        {
            return Resolve(root, root["parameters"]?[parameter.Groups["name"].Value]?["defaultValue"]);
        }

        return value;
    }

    /// <summary>
    /// The default value an app setting gets when main.bicep is deployed without parameters: a literal,
    /// or <c>[parameters('p')]</c> / <c>[string(parameters('p'))]</c> of a main.bicep parameter with a default.
    /// Null when the value is computed at deployment time.
    /// </summary>
    public static string? DefaultText(JsonObject root, string value)
    {
        if (!value.StartsWith('['))
        {
            return value;
        }

        if (ParameterOrStringOfParameter().Match(value) is not { Success: true } match)
        {
            return null;
        }

        var defaultValue = root["parameters"]?[match.Groups["name"].Value]?["defaultValue"];
        return defaultValue?.GetValueKind() switch
        {
            JsonValueKind.String => defaultValue.GetValue<string>(),
            JsonValueKind.Number => defaultValue.GetValue<decimal>().ToString(CultureInfo.InvariantCulture),
            JsonValueKind.True => "True",
            JsonValueKind.False => "False",
            _ => null,
        };
    }

    /// <summary>
    /// The Function App's app settings (name to value expression). The site takes them from a module
    /// parameter through a copy loop over <c>items(parameters('p'))</c>, or lists them inline.
    /// </summary>
    public static IReadOnlyDictionary<string, string> FunctionAppSettings(JsonObject root)
    {
        var module = ModulesDeploying(root, "Microsoft.Web/sites").Single();
        var site = DeployedResources(NestedTemplate(module)!, "Microsoft.Web/sites").Single();
        var siteConfig = site["properties"]?["siteConfig"] as JsonObject
            ?? throw new InvalidOperationException("The Function App has no siteConfig.");

        if (siteConfig["appSettings"] is JsonArray inline)
        {
            return inline.OfType<JsonObject>().ToDictionary(
                s => s["name"]!.GetValue<string>(), s => s["value"]?.ToString() ?? "", StringComparer.Ordinal);
        }

        var loop = (siteConfig["copy"] as JsonArray)?.OfType<JsonObject>()
            .SingleOrDefault(c => c["name"]?.GetValue<string>() == "appSettings");
        var count = loop?["count"]?.GetValue<string>() ?? "";
        if (ItemsOfParameter().Match(count) is not { Success: true } source)
        {
            throw new InvalidOperationException(
                $"App settings are neither inline nor a loop over items(parameters(...)): '{count}'. Update the test reader.");
        }

        var settings = ModuleParameter(root, module, source.Groups["name"].Value) as JsonObject
            ?? throw new InvalidOperationException("The app settings module parameter is not an object literal.");
        return settings.ToDictionary(p => p.Key, p => p.Value?.ToString() ?? "", StringComparer.Ordinal);
    }

    [GeneratedRegex(@"^\[variables\('(?<name>[^']+)'\)(?<path>(\.[A-Za-z0-9_]+)*)\]$", RegexOptions.CultureInvariant)]
    private static partial Regex VariableReference();

    [GeneratedRegex(@"^\[parameters\('(?<name>[^']+)'\)\]$", RegexOptions.CultureInvariant)]
    private static partial Regex ParameterReference();

    [GeneratedRegex(@"^\[(string\()?parameters\('(?<name>[^']+)'\)\)?\]$", RegexOptions.CultureInvariant)]
    private static partial Regex ParameterOrStringOfParameter();

    [GeneratedRegex(@"items\(parameters\('(?<name>[^']+)'\)\)", RegexOptions.CultureInvariant)]
    private static partial Regex ItemsOfParameter();
}
