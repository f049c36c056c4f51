using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Contracts;

/// <summary>One request of docs/api.http: its title, method, path under /api (variables filled in), query and headers.</summary>
/// <param name="Expect">The refusal status the example deliberately shows (<c># expect: 409</c>); null: it shows a 2xx.</param>
public sealed record HttpFileRequest(string Title, string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, string? Body, int? Expect = null);

/// <summary>One request of docs/api.http as written: its URL, headers and body may use <c>{{variables}}</c>.</summary>
public sealed record HttpFileTemplate(string Title, string Method, string Url, IReadOnlyDictionary<string, string> Headers, string? Body, int? Expect)
{
    /// <summary>The request with <paramref name="variables"/> filled in.</summary>
    public HttpFileRequest Fill(IReadOnlyDictionary<string, string> variables)
    {
        var url = new Uri(ApiDocuments.Fill(Url, variables));
        Assert.StartsWith("/api/", url.AbsolutePath, StringComparison.Ordinal);
        return new HttpFileRequest(Title, Method, url.AbsolutePath["/api".Length..], url.Query,
            Headers.ToDictionary(h => h.Key, h => ApiDocuments.Fill(h.Value, variables), StringComparer.OrdinalIgnoreCase),
            Body is null ? null : ApiDocuments.Fill(Body, variables), Expect);
    }
}

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
        var variables = HttpFileVariables();
        return HttpFileTemplates().Select(t => t.Fill(variables)).ToList();
    }

    /// <summary>The <c>@name = value</c> variables of docs/api.http.</summary>
    public static IReadOnlyDictionary<string, string> HttpFileVariables() =>
        File.ReadAllLines(Repo.Path("docs", "api.http")).Select(l => VariablePattern().Match(l)).Where(m => m.Success)
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value.Trim());

    /// <summary>
    /// The requests of docs/api.http as written (variables not filled in), in file order. A comment
    /// line <c># expect: 409</c> in a request's block marks an example that deliberately shows a refusal.
    /// </summary>
    public static IReadOnlyList<HttpFileTemplate> HttpFileTemplates()
    {
        var lines = File.ReadAllLines(Repo.Path("docs", "api.http"));
        var result = new List<HttpFileTemplate>();
        var blocks = string.Join('\n', lines).Split("\n###", StringSplitOptions.None).Skip(1);
        foreach (var block in blocks)
        {
            var blockLines = block.Split('\n');
            var title = blockLines[0].Trim();
            var comments = blockLines.Skip(1).TakeWhile(l => l.Trim().Length == 0 || l.TrimStart().StartsWith('#')).ToList();
            var expect = comments.Select(l => ExpectPattern().Match(l)).Where(m => m.Success).Select(m => (int?)int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();
            var rest = blockLines.Skip(1 + comments.Count).ToList();
            var requestLine = rest[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var i = 1;
            for (; i < rest.Count && rest[i].Trim().Length > 0; i++)
            {
                var colon = rest[i].IndexOf(':', StringComparison.Ordinal);
                headers[rest[i][..colon].Trim()] = rest[i][(colon + 1)..].Trim();
            }

            var body = string.Join('\n', rest.Skip(i)).Trim();
            result.Add(new HttpFileTemplate(title, requestLine[0], requestLine[1], headers, body.Length == 0 ? null : body, expect));
        }

        return result;
    }

    /// <summary><paramref name="text"/> with every <c>{{name}}</c> replaced from <paramref name="variables"/> (an unknown one is an error).</summary>
    public static string Fill(string text, IReadOnlyDictionary<string, string> variables) =>
        UsePattern().Replace(text, m => variables.TryGetValue(m.Groups[1].Value, out var v) ? v : throw new InvalidOperationException($"api.http uses an undefined variable {m.Value}"));

    [GeneratedRegex(@"^\s*#\s*expect:\s*(\d{3})\b")]
    private static partial Regex ExpectPattern();

    [GeneratedRegex(@"^@(\w+)\s*=\s*(.*)$")]
    private static partial Regex VariablePattern();

    [GeneratedRegex(@"\{\{(\w+)\}\}")]
    private static partial Regex UsePattern();
}
