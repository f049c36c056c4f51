using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Serverless.Access;
using Serverless.Tests.Contracts;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.EndToEnd;

/// <summary>
/// Who may do what, over the local host (issue 13, item 4): with keys configured, reads need a
/// function key, operator actions the admin key; approval and rollback a signed-in person holding the
/// Approver role (401 without one, 403 without the role). And the served OpenAPI document is the checked-in one.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class ApiContractOverHttpTests(AzuriteFixture azurite)
{
    private const string FunctionKey = "function-key-for-tests";
    private const string AdminKey = "admin-key-for-tests";
    private static readonly DateTimeOffset T0 = new(2010, 5, 1, 12, 0, 0, TimeSpan.Zero);

    private static readonly string Reader = new ClientPrincipal("aad", "Rita Reader", "aaaaaaaa-0000-0000-0000-000000000001", ["Viewer"]).Encode();

    private static async Task<(HttpStatusCode Status, string Body)> Send(HttpClient http, HttpMethod method, string url, string? key = null, string? principal = null, string? json = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (key is not null) { request.Headers.Add("x-functions-key", key); }
        if (principal is not null) { request.Headers.Add(ClientPrincipal.Header, principal); }
        if (json is not null) { request.Content = new StringContent(json, Encoding.UTF8, "application/json"); }
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task With_keys_configured_reads_need_a_function_key_and_operator_actions_the_admin_key()
    {
        await using var host = await LocalHostFixture.StartAsync(azurite, T0, new Dictionary<string, string?>
        {
            ["LocalHost:FunctionKey"] = FunctionKey, ["LocalHost:AdminKey"] = AdminKey,
        });

        // Anonymous routes need nothing.
        Assert.Equal(HttpStatusCode.OK, (await Send(host.Http, HttpMethod.Get, "api/openapi.json")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Send(host.Http, HttpMethod.Get, "api/dashboard/")).Status);
        Assert.NotEqual(HttpStatusCode.Unauthorized, (await Send(host.Http, HttpMethod.Get, "api/health")).Status);

        // Reads: no key or a wrong key is a 401 problem; the function key or the admin key opens them.
        var none = await Send(host.Http, HttpMethod.Get, "api/models");
        Assert.Equal(HttpStatusCode.Unauthorized, none.Status);
        Assert.Contains("x-functions-key", none.Body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(host.Http, HttpMethod.Get, "api/models", key: "guess")).Status);
        foreach (var route in new[] { "api/pipelines", "api/features", "api/timemachine/snapshots" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await Send(host.Http, HttpMethod.Get, route)).Status);
            Assert.Equal(HttpStatusCode.OK, (await Send(host.Http, HttpMethod.Get, route, key: FunctionKey)).Status);
        }

        Assert.Equal(HttpStatusCode.OK, (await Send(host.Http, HttpMethod.Get, "api/models", key: FunctionKey)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Send(host.Http, HttpMethod.Get, "api/models", key: AdminKey)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Send(host.Http, HttpMethod.Get, "api/alerts?code=" + FunctionKey)).Status);   // the key in the query is the platform's, not a parameter

        // Operator actions: the function key is not enough.
        foreach (var route in new[] { "api/models/refresh", "api/lumberjack/labels", "api/archive/exports", "api/timemachine/skew", "api/timemachine/snapshots", "api/pipelines/train", "api/models/rollback", "api/pipelines/train/p-1/approval", "api/precompute/similar-titles" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await Send(host.Http, HttpMethod.Post, route)).Status);
            var withFunctionKey = await Send(host.Http, HttpMethod.Post, route, key: FunctionKey, json: "{}");
            Assert.True(withFunctionKey.Status == HttpStatusCode.Unauthorized, $"{route} with a function key: {(int)withFunctionKey.Status} {withFunctionKey.Body}");
        }

        Assert.Equal(HttpStatusCode.OK, (await Send(host.Http, HttpMethod.Post, "api/models/refresh", key: AdminKey)).Status);

        // Approval with the admin key: the development identity (an Approver) decides; an unknown pipeline is then a 404.
        Assert.Equal(HttpStatusCode.NotFound, (await Send(host.Http, HttpMethod.Post, "api/pipelines/train/p-1/approval", key: AdminKey, json: "{\"approve\":true}")).Status);
    }

    [Fact]
    public async Task Approval_and_rollback_need_a_signed_in_person_who_holds_the_Approver_role()
    {
        // No development identity: nobody is signed in.
        await using var host = await LocalHostFixture.StartAsync(azurite, T0, new Dictionary<string, string?>
        {
            ["LocalHost:DevelopmentIdentity:Name"] = null,
        });

        foreach (var (route, body) in new[] { ("api/pipelines/train/p-1/approval", "{\"approve\":true}"), ("api/models/rollback", "{}") })
        {
            var anonymous = await Send(host.Http, HttpMethod.Post, route, json: body);
            Assert.True(anonymous.Status == HttpStatusCode.Unauthorized, $"{route}: {(int)anonymous.Status} {anonymous.Body}");
            Assert.Contains("signed-in person", anonymous.Body, StringComparison.Ordinal);

            var garbled = await Send(host.Http, HttpMethod.Post, route, principal: "not base64 {", json: body);
            Assert.Equal(HttpStatusCode.Unauthorized, garbled.Status);

            // A signed-in person without the role: 403 naming the role, and nothing was decided.
            var reader = await Send(host.Http, HttpMethod.Post, route, principal: Reader, json: body);
            Assert.True(reader.Status == HttpStatusCode.Forbidden, $"{route}: {(int)reader.Status} {reader.Body}");
            Assert.Contains("Rita Reader does not hold the app role 'Approver'", reader.Body, StringComparison.Ordinal);
            Assert.Equal(403, (int?)JsonNode.Parse(reader.Body)!["status"]);
        }

        // The same person with the role gets past authorization (then: no such pipeline, nothing to roll back).
        var approver = new ClientPrincipal("aad", "Ada Approver", "aaaaaaaa-0000-0000-0000-000000000002", [OperatorRoles.Approver]).Encode();
        Assert.Equal(HttpStatusCode.NotFound, (await Send(host.Http, HttpMethod.Post, "api/pipelines/train/p-1/approval", principal: approver, json: "{\"approve\":true}")).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await Send(host.Http, HttpMethod.Post, "api/models/rollback", principal: approver, json: "{}")).Status);

        // A typed name is not an identity: "by" is an unknown field.
        var typed = await Send(host.Http, HttpMethod.Post, "api/pipelines/train/p-1/approval", principal: approver, json: "{\"approve\":true,\"by\":\"alice\"}");
        Assert.Equal(HttpStatusCode.BadRequest, typed.Status);
        Assert.Contains("unknown field 'by'", typed.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_served_OpenAPI_document_is_the_checked_in_one()
    {
        // The examples of docs/api.http run against a host that holds data in ApiExamplesOverHttpTests.
        await using var host = await LocalHostFixture.StartAsync(azurite, T0);
        var served = await host.Http.GetAsync("api/openapi.json");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal("application/json", served.Content.Headers.ContentType?.MediaType);
        Assert.Equal(await File.ReadAllBytesAsync(ApiDocuments.OpenApiPath), await served.Content.ReadAsByteArrayAsync());
    }
}
