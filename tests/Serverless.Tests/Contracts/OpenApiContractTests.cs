using System.Text.Json.Nodes;
using Serverless.Functions.Http;
using Serverless.Requests;

namespace Serverless.Tests.Contracts;

/// <summary>
/// docs/openapi.json is the HTTP contract: every HTTP function of the generated functions.metadata is
/// an operation there with the same method, route and key level, nothing else is, and docs/api.http
/// has an example of every operation.
/// </summary>
public sealed class OpenApiContractTests
{
    private static readonly JsonObject Doc = ApiDocuments.OpenApi();

    private static IEnumerable<(string Name, string Method, string Route, string AuthLevel)> HttpFunctions() =>
        FunctionsMetadataTests.Metadata.Value.Select(f => f!.AsObject())
            .SelectMany(f => f["bindings"]!.AsArray().Select(b => b!.AsObject()).Where(b => (string?)b["type"] == "httpTrigger")
                .SelectMany(b => b["methods"]!.AsArray().Select(m => ((string)f["name"]!, ((string)m!).ToLowerInvariant(), (string)b["route"]!, (string)b["authLevel"]!))));

    /// <summary>
    /// A route as an OpenAPI path template: a catch-all parameter (<c>{*path}</c>, the rest of the URL)
    /// is written <c>{path}</c>, as OpenAPI has no catch-all (the operation's description says so).
    /// </summary>
    internal static string PathTemplate(string route) => "/" + System.Text.RegularExpressions.Regex.Replace(route, @"\{\*(\w+)\}", "{$1}");

    [Fact]
    public void Every_http_function_in_functions_metadata_is_an_operation_with_its_method_route_and_key_level()
    {
        var functions = HttpFunctions().ToList();
        Assert.True(functions.Count >= 20, $"only {functions.Count} HTTP functions in functions.metadata");
        var operations = ApiDocuments.Operations(Doc).ToDictionary(o => (string)o.Operation["operationId"]!, o => o);
        foreach (var (name, method, route, authLevel) in functions)
        {
            Assert.True(operations.TryGetValue(name, out var op), $"function '{name}' ({method.ToUpperInvariant()} /api/{route}) is missing from docs/openapi.json");
            Assert.True((PathTemplate(route), method) == (op.Path, op.Method), $"function '{name}' is {method.ToUpperInvariant()} /{route} but the document says {op.Method.ToUpperInvariant()} {op.Path}");
            Assert.True(authLevel.Equals((string?)op.Operation["x-functions-auth-level"], StringComparison.OrdinalIgnoreCase), $"function '{name}' has key level {authLevel}, the document {(string?)op.Operation["x-functions-auth-level"]}");
            var schemes = op.Operation["security"]!.AsArray().SelectMany(s => s!.AsObject().Select(kv => kv.Key)).Distinct().Order().ToList();
            var expected = authLevel switch
            {
                "Anonymous" => [],
                "Function" => ["adminKey", "functionKey"],
                _ => op.Operation["x-app-role"] is null ? new List<string> { "adminKey" } : ["adminKey", "clientPrincipal"],
            };
            Assert.True(expected.SequenceEqual(schemes), $"function '{name}': security {string.Join(",", schemes)}, expected {string.Join(",", expected)}");
        }

        var stale = operations.Keys.Except(functions.Select(f => f.Name)).ToList();
        Assert.True(stale.Count == 0, $"operations without a function: {string.Join(", ", stale)}");
    }

    [Fact]
    public void Approval_and_rollback_need_a_signed_in_Approver_and_every_other_operator_action_the_admin_key()
    {
        var admin = HttpFunctions().Where(f => f.AuthLevel == "Admin").Select(f => f.Name).Order().ToList();
        Assert.Equal(
            ["archive-export-start", "lumberjack-labels", "models-refresh", "models-rollback", "precompute-start", "timemachine-skew", "timemachine-snapshot-start", "train-pipeline-approval", "train-pipeline-start"],
            admin);
        var approver = ApiDocuments.Operations(Doc).Where(o => (string?)o.Operation["x-app-role"] == Serverless.Access.OperatorRoles.Approver).Select(o => (string)o.Operation["operationId"]!).Order();
        Assert.Equal(["models-rollback", "train-pipeline-approval"], approver);
        // Every write (POST) is an operator action except ranking, which is serving.
        Assert.All(HttpFunctions().Where(f => f.Method == "post" && f.Name != "rank"), f => Assert.Equal("Admin", f.AuthLevel));
        // Anonymous: health (load balancers), this document, and the dashboard's static files (the page
        // itself holds nothing; every figure it shows comes from a keyed API call). Every other read needs a key.
        var anonymous = HttpFunctions().Where(f => f.AuthLevel == "Anonymous").Select(f => (f.Name, f.Method)).Order().ToList();
        Assert.Equal([("dashboard", "get"), ("health", "get"), ("openapi", "get")], anonymous);
        Assert.All(HttpFunctions().Where(f => f.Method == "get" && f.Name is not ("dashboard" or "health" or "openapi")), f => Assert.Equal("Function", f.AuthLevel));
    }

    [Fact]
    public void The_document_is_well_formed_every_reference_resolves_and_every_refusal_is_a_problem()
    {
        Assert.StartsWith("3.", (string?)Doc["openapi"], StringComparison.Ordinal);
        Assert.Equal("/api", (string?)Doc["servers"]![0]!["url"]);
        var text = Doc.ToJsonString();
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(text, "\"\\$ref\":\"#/([^\"]+)\""))
        {
            JsonNode? node = Doc;
            foreach (var part in m.Groups[1].Value.Split('/'))
            {
                node = node?[part];
            }

            Assert.True(node is not null, $"unresolved $ref #/{m.Groups[1].Value}");
        }

        foreach (var (path, method, op) in ApiDocuments.Operations(Doc))
        {
            var where = $"{method.ToUpperInvariant()} {path}";
            var inPath = System.Text.RegularExpressions.Regex.Matches(path, @"\{([^}]+)\}").Select(m => m.Groups[1].Value).Order().ToList();
            var declared = (op["parameters"]?.AsArray() ?? []).Where(p => (string?)p!["in"] == "path").Select(p => (string)p!["name"]!).Order().ToList();
            Assert.True(inPath.SequenceEqual(declared), $"{where}: path parameters {string.Join(",", inPath)} but declared {string.Join(",", declared)}");
            var responses = op["responses"]!.AsObject();
            Assert.Contains(responses, r => r.Key.StartsWith('2'));
            if (op["requestBody"] is not null)
            {
                Assert.All(new[] { "400", "413", "415" }, code => Assert.True(responses.ContainsKey(code), $"{where} takes a body but documents no {code}"));
            }

            if ((string?)op["x-functions-auth-level"] != "anonymous")
            {
                Assert.True(responses.ContainsKey("401"), $"{where} needs a key but documents no 401");
            }

            if (op["x-app-role"] is not null)
            {
                Assert.True(responses.ContainsKey("403"), $"{where} needs an app role but documents no 403");
            }

            foreach (var (code, response) in responses.Where(r => r.Key[0] == '4'))
            {
                var reference = (string?)response!["$ref"];
                var resolved = reference is null ? response : Doc["components"]!["responses"]![reference.Split('/')[^1]]!;
                Assert.True(resolved["content"]?["application/problem+json"] is not null, $"{where} {code} is not a problem+json response");
            }
        }
    }

    [Fact]
    public void The_served_document_is_the_checked_in_one()
    {
        Assert.Equal(File.ReadAllBytes(ApiDocuments.OpenApiPath), ApiContract.OpenApiDocument.ToArray());
    }

    [Fact]
    public void Every_request_of_the_http_file_is_an_operation_and_every_operation_has_an_example()
    {
        var requests = ApiDocuments.HttpFile();
        var covered = new HashSet<string>();
        foreach (var r in requests)
        {
            var match = ApiDocuments.Match(Doc, r.Method, r.Path);
            Assert.True(match is not null, $"api.http '{r.Title}': {r.Method} /api{r.Path} is no operation of docs/openapi.json");
            var op = match.Value.Operation;
            covered.Add((string)op["operationId"]!);
            var level = (string?)op["x-functions-auth-level"];
            Assert.True(level == "anonymous" ? !r.Headers.ContainsKey("x-functions-key") : r.Headers.ContainsKey("x-functions-key"), $"api.http '{r.Title}': key header and key level {level} disagree");
            if (op["requestBody"] is JsonObject body && (bool?)body["required"] == true)
            {
                Assert.True(r.Body is not null, $"api.http '{r.Title}' needs a body");
            }

            if (r.Body is not null)
            {
                Assert.Equal("application/json", r.Headers.GetValueOrDefault("Content-Type"));
                Assert.NotNull(JsonNode.Parse(r.Body));
                // Only the fields the request schema names (the functions refuse unknown fields).
                var schema = (string)op["requestBody"]!["content"]!["application/json"]!["schema"]!["$ref"]!;
                var allowed = Doc["components"]!["schemas"]![schema.Split('/')[^1]]!["properties"]!.AsObject().Select(p => p.Key).ToHashSet();
                Assert.All(JsonNode.Parse(r.Body)!.AsObject(), f => Assert.True(allowed.Contains(f.Key), $"api.http '{r.Title}': field '{f.Key}' is not in {schema}"));
            }
        }

        var missing = ApiDocuments.Operations(Doc).Select(o => (string)o.Operation["operationId"]!).Except(covered).ToList();
        Assert.True(missing.Count == 0, $"operations without an example in docs/api.http: {string.Join(", ", missing)}");
    }

    [Fact]
    public void The_domain_has_no_AspNetCore_types()
    {
        // Request types validate themselves in shared/ with their own query type; HTTP types stay in functions/.
        var shared = typeof(RequestQuery).Assembly;
        Assert.DoesNotContain(shared.GetReferencedAssemblies(), a => a.Name!.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
    }
}
