using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Access;
using Serverless.Tests.Fixtures;
using Serverless.TimeMachine;

namespace Serverless.Tests.EndToEnd;

/// <summary>
/// The request types' checks over HTTP: every query and body out of shape is a 400 problem whose
/// detail names the parameter or field and the rule. And who is signed in: in Azure the platform's
/// client principal counts only while App Service authentication is on; the local host's
/// development identity is recorded, name and object id, by the starts that record who asked.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class RequestRefusalsOverHttpTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset T0 = new(2010, 5, 1, 12, 0, 0, TimeSpan.Zero);

    private static readonly ClientPrincipal Approver = new("aad", "Ada Approver", "aaaaaaaa-0000-0000-0000-000000000002", [OperatorRoles.Approver]);

    private static async Task<(HttpStatusCode Status, string Body, string? ContentType)> Send(HttpClient http, string method, string url, string? json = null, string? principal = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        if (json is not null) { request.Content = new StringContent(json, Encoding.UTF8, "application/json"); }
        if (principal is not null) { request.Headers.Add(ClientPrincipal.Header, principal); }
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.MediaType);
    }

    private static readonly (string Method, string Url, string? Json, string Detail)[] Refusals =
    [
        ("GET", "api/models?status=Live", null, "unknown query parameter 'status' (allowed: none)"),
        ("GET", "api/models/v1?expand=true", null, "unknown query parameter 'expand' (allowed: none)"),
        ("GET", "api/models/not!a!version", null, $"version must be 1-{Serverless.Models.ModelVersion.MaxLength} characters"),
        ("GET", "api/pipelines?status=waiting", null, "status must be one of awaiting-approval, running, completed, failed, all"),
        ("GET", "api/pipelines?status=running&status=failed", null, "status must be one of awaiting-approval, running, completed, failed, all (given once)"),
        ("GET", "api/pipelines?limit=0", null, "limit must be a whole number 1..500"),
        ("GET", "api/pipelines?limit=ten", null, "limit must be a whole number 1..500"),
        ("GET", "api/pipelines?state=running", null, "unknown query parameter 'state' (allowed: status, limit)"),
        ("GET", "api/pipelines/train/a!b", null, "id"),
        ("GET", "api/precompute/similar-titles?at=now", null, "unknown query parameter 'at' (allowed: none)"),
        ("GET", "api/precompute/everything", null, "unknown dataset 'everything': use one of title-stats, similar-titles, member-top-n"),
        ("GET", "api/titles/1/similar?count=five", null, "count must be a whole number 1..100"),
        ("GET", "api/members/1/recommendations?count=1&count=2", null, "count must be given once"),
        ("GET", "api/timemachine/snapshots/not-a-snapshot", null, "id must be a snapshot id"),
        ("POST", "api/timemachine/snapshots", """{"asOf":"9999-01-01T00:00:00Z"}""", "is in the future"),
        ("POST", "api/timemachine/snapshots", """{"asOf":"1980-01-01T00:00:00Z"}""", "asOf must be after 1990"),
        ("POST", "api/timemachine/snapshots", """{"sampleRate":0}""", "sampleRate must be in (0, 1]"),
        ("POST", "api/timemachine/snapshots", """{"members":[]}""", "members must name 1..1000 members"),
        ("POST", "api/timemachine/snapshots", $$"""{"requestedBy":"{{new string('x', 201)}}"}""", "requestedBy may hold at most 200 characters"),
        ("POST", "api/precompute/similar-titles", $$"""{"requestedBy":"{{new string('x', 201)}}"}""", "requestedBy may hold at most 200 characters"),
        ("POST", "api/precompute/similar-titles", """{"size":101}""", "size must be 1..100"),
        ("POST", "api/pipelines/train", """{"approvalTimeout":"31.00:00:00"}""", "approvalTimeout must be"),
        ("POST", "api/pipelines/train/p-1/approval", "{}", "a body {\"approve\": true|false"),
        ("POST", "api/models/rollback", $$"""{"reason":"{{new string('x', 1001)}}"}""", "reason may hold at most 1000 characters"),
        ("POST", "api/models/rollback", """{"expectedLive":"a/b"}""", "expectedLive must be"),
    ];

    [Fact]
    public async Task Queries_and_bodies_out_of_shape_are_400_problems_naming_what_is_wrong()
    {
        await using var host = await LocalHostFixture.StartAsync(azurite, T0);
        foreach (var (method, url, json, detail) in Refusals)
        {
            var (status, body, type) = await Send(host.Http, method, url, json);
            Assert.True(status == HttpStatusCode.BadRequest && type == "application/problem+json", $"{method} {url}: {(int)status} {type} {body}");
            var problem = JsonNode.Parse(body)!;
            Assert.Equal(400, (int)problem["status"]!);
            Assert.True(((string?)problem["detail"])?.Contains(detail, StringComparison.Ordinal) == true, $"{method} {url}: the detail '{(string?)problem["detail"]}' does not say '{detail}'");
        }
    }

    /// <summary>The orchestration input a snapshot start over HTTP scheduled: who it records as having asked.</summary>
    private static async Task<(string By, string? ObjectId)> SnapshotRequesterAsync(LocalHostFixture host, string body, string? principal = null)
    {
        var (status, answer, _) = await Send(host.Http, "POST", "api/timemachine/snapshots", body, principal);
        Assert.True(status == HttpStatusCode.Accepted, $"{(int)status} {answer}");
        var id = (string)JsonNode.Parse(answer)!["id"]!;
        var state = await host.App.Services.GetRequiredService<DurableTaskClient>().GetInstanceAsync(id, getInputsAndOutputs: true);
        var request = state!.ReadInputAs<ContextSnapshotRequest>()!;
        return (request.RequestedBy, request.RequestedByObjectId);
    }

    [Fact]
    public async Task A_snapshot_start_records_the_signed_in_person_by_name_and_object_id_over_a_typed_name()
    {
        await using var host = await LocalHostFixture.StartAsync(azurite, T0);
        Assert.Equal((LocalHostFixture.DeveloperName, LocalHostFixture.DeveloperObjectId), await SnapshotRequesterAsync(host, """{"sampleRate":0.5,"requestedBy":"typed"}"""));

        // Nobody signed in: the typed name, and no object id.
        await using var anonymous = await LocalHostFixture.StartAsync(azurite, T0, new Dictionary<string, string?> { ["LocalHost:DevelopmentIdentity:Name"] = null });
        Assert.Equal(("typed", (string?)null), await SnapshotRequesterAsync(anonymous, """{"sampleRate":0.5,"requestedBy":"typed"}"""));
    }

    [Fact]
    public async Task In_Azure_with_App_Service_authentication_off_a_forged_Approver_header_is_nobody()
    {
        // As App Service runs the app without authentication: WEBSITE_SITE_NAME set, WEBSITE_AUTH_ENABLED not.
        await using var host = await LocalHostFixture.StartAsync(azurite, T0, new Dictionary<string, string?>
        {
            ["WEBSITE_SITE_NAME"] = "func-test", ["LocalHost:DevelopmentIdentity:Name"] = null,
        });
        var forged = Approver.Encode();
        foreach (var (url, json) in new[] { ("api/pipelines/train/p-1/approval", """{"approve":true}"""), ("api/models/rollback", "{}") })
        {
            var (status, body, _) = await Send(host.Http, "POST", url, json, forged);
            Assert.True(status == HttpStatusCode.Unauthorized, $"{url}: {(int)status} {body}");
            Assert.Contains("App Service authentication is off", body, StringComparison.Ordinal);
        }

        // A start records the typed name, not the forged person.
        Assert.Equal(("typed", (string?)null), await SnapshotRequesterAsync(host, """{"sampleRate":0.5,"requestedBy":"typed"}""", forged));
    }

    [Fact]
    public async Task In_Azure_with_App_Service_authentication_on_the_platform_s_principal_decides()
    {
        await using var host = await LocalHostFixture.StartAsync(azurite, T0, new Dictionary<string, string?>
        {
            ["WEBSITE_SITE_NAME"] = "func-test", ["WEBSITE_AUTH_ENABLED"] = "True", ["LocalHost:DevelopmentIdentity:Name"] = null,
        });
        var reader = new ClientPrincipal("aad", "Rita Reader", "aaaaaaaa-0000-0000-0000-000000000001", ["Viewer"]).Encode();
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(host.Http, "POST", "api/pipelines/train/p-1/approval", """{"approve":true}""")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(host.Http, "POST", "api/pipelines/train/p-1/approval", """{"approve":true}""", reader)).Status);
        var past = await Send(host.Http, "POST", "api/pipelines/train/p-1/approval", """{"approve":true}""", Approver.Encode());
        Assert.True(past.Status == HttpStatusCode.NotFound, $"{(int)past.Status} {past.Body}");   // authorized; there is no such pipeline
        Assert.Equal((Approver.Name, Approver.ObjectId), await SnapshotRequesterAsync(host, """{"sampleRate":0.5,"requestedBy":"typed"}""", Approver.Encode()));
    }
}
