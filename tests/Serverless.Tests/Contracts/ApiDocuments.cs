using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Contracts;

/// <summary>One request of docs/api.http: its title, method, path under /api (variables filled in), query and headers.</summary>
public sealed record HttpFileRequest(string Title, string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, string? Body);

/// <summary>The checked-in API documents: docs/openapi.json and docs/api.http.</summary>
public static partial class ApiDocuments
{
    public static string OpenApiPath => Repo.Path("docs", "openapi.json");

    public static JsonObject OpenApi() => JsonNode.Parse(File.ReadAllText(OpenApiPath))!.AsObject();

    /// <summary>Every (path template, method, operation) of the document.</summary>
    public static IEnumerable<(string Path, string Method, JsonObject Operation)> Operations(JsonObject doc) =>
        doc["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject().Select(m => (p.Key, m.Key, m.Value!.AsObject())));

    /// <summary>The operation a concrete path and method fall on (literal segments win over parameters), or null.</summary>
    public static (string Path, JsonObject Operation)? Match(JsonObject doc, string method, string path) =>
        Operations(doc)
            .Where(o => o.Method.Equals(method, StringComparison.OrdinalIgnoreCase) && Template(o.Path).IsMatch(path))
            .OrderBy(o => o.Path.Count(c => c == '{'))
            .Select(o => ((string, JsonObject)?)(o.Path, o.Operation))
            .FirstOrDefault();

    private static Regex Template(string template) =>
        new("^" + ParameterPattern().Replace(Regex.Escape(template).Replace(@"\{", "{", StringComparison.Ordinal), "[^/]+") + "$");

    [GeneratedRegex(@"\{[^}/]+\}")]
    private static partial Regex ParameterPattern();

    /// <summary>The requests of docs/api.http, with its <c>@name = value</c> variables filled in.</summary>
    public static IReadOnlyList<HttpFileRequest> HttpFile()
    {
        var lines = File.ReadAllLines(Repo.Path("docs", "api.http"));
        var variables = lines.Select(l => VariablePattern().Match(l)).Where(m => m.Success).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value.Trim());
        string Fill(string s) => UsePattern().Replace(s, m => variables.TryGetValue(m.Groups[1].Value, out var v) ? v : throw new InvalidOperationException($"api.http uses an undefined variable {m.Value}"));

        var result = new List<HttpFileRequest>();
        var blocks = string.Join('\n', lines).Split("\n###", StringSplitOptions.None).Skip(1);
        foreach (var block in blocks)
        {
            var blockLines = block.Split('\n');
            var title = blockLines[0].Trim();
            var rest = blockLines.Skip(1).SkipWhile(l => l.Trim().Length == 0 || l.TrimStart().StartsWith('#')).ToList();
            var requestLine = Fill(rest[0]).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var i = 1;
            for (; i < rest.Count && rest[i].Trim().Length > 0; i++)
            {
                var colon = rest[i].IndexOf(':', StringComparison.Ordinal);
                headers[rest[i][..colon].Trim()] = Fill(rest[i][(colon + 1)..].Trim());
            }

            var body = string.Join('\n', rest.Skip(i)).Trim();
            var url = new Uri(requestLine[1]);
            Assert.StartsWith("/api/", url.AbsolutePath, StringComparison.Ordinal);
            result.Add(new HttpFileRequest(title, requestLine[0], url.AbsolutePath["/api".Length..], url.Query, headers, body.Length == 0 ? null : Fill(body)));
        }

        return result;
    }

    [GeneratedRegex(@"^@(\w+)\s*=\s*(.*)$")]
    private static partial Regex VariablePattern();

    [GeneratedRegex(@"\{\{(\w+)\}\}")]
    private static partial Regex UsePattern();
}
