using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Serverless.LocalHost;
using Serverless.Models;
using Serverless.MovieLens;
using Serverless.Ranking;
using Serverless.Tests.Contracts;
using Serverless.Tests.Fixtures;
using Serverless.Training;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Tests.EndToEnd;

/// <summary>
/// A local host that holds data, with keys configured: 12,000 MovieLens ratings archived, a model
/// trained and published, and one training pipeline started over HTTP and rejected over HTTP by the
/// development identity (an Approver), so there is a rejected candidate with a Sentinel report, a
/// finished pipeline and an alert.
/// </summary>
public sealed class ApiHostFixture : IAsyncLifetime
{
    public const string FunctionKey = "function-key-of-the-examples";
    public const string AdminKey = "admin-key-of-the-examples";

    private readonly AzuriteFixture azurite = new();

    public LocalHostFixture Host { get; private set; } = null!;

    /// <summary>The version the training job published.</summary>
    public string Live { get; private set; } = null!;

    /// <summary>The pipeline the fixture started and rejected, and its candidate.</summary>
    public string RejectedPipeline { get; private set; } = null!;

    public string RejectedVersion { get; private set; } = null!;

    /// <summary>A member with ratings and a title in the catalog.</summary>
    public string Member { get; private set; } = null!;

    public string Title { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await azurite.InitializeAsync();
        var facts = MovieLensFacts.Load(Repo.Path("data", "movielens"), maxRatings: 12_000);
        Host = await LocalHostFixture.StartAsync(azurite, facts[0].EventTime!.Value, new Dictionary<string, string?>
        {
            ["Archive:BatchPagesPerSecond"] = "2000",
            ["LocalHost:FunctionKey"] = FunctionKey,
            ["LocalHost:AdminKey"] = AdminKey,

            // As in TrainedHostFixture: the logged traffic here is a handful of requests, so the
            // Sentinel's shadow and drift checks are skipped (visibly, in the report).
            ["Sentinel:MinShadowRows"] = "1000000",
            ["Sentinel:MaxShadowRows"] = "1000000",

            // The serving budget (p99 of a 100-candidate batch) measures the machine: on cores shared
            // with other test runs it can miss 50 ms, and these tests need candidates at the gate.
            ["Sentinel:ServingBudget"] = "00:00:10",
        });
        Host.Http.DefaultRequestHeaders.Add("x-functions-key", AdminKey);
        var ratings = facts.Where(f => f.Kind == "rating").ToList();
        Member = ratings[0].Member!;
        Title = facts.First(f => f.Kind == "catalog" && ratings.Any(r => r.Title == f.Title)).Title!;

        var replay = new Serverless.LocalHost.Replay.MovieLensReplay(Host.Hub, Host.Clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<Serverless.LocalHost.Replay.MovieLensReplay>.Instance);
        await replay.PublishAsync(facts, null, null, CancellationToken.None);
        await Host.Hub.WaitForIdleAsync(TimeSpan.FromMinutes(2));
        var services = Host.App.Services;
        Live = (await services.GetRequiredService<TrainingJob>().RunAsync(new TrainingJobRequest(TrainerKind.LightGbm, null, Publish: true))).Manifest.Version;
        await services.GetRequiredService<LiveModel>().RefreshAsync();

        // A pipeline over HTTP, rejected at its gate by the signed-in development identity.
        Host.Clock.AdvanceTo(Host.Clock.GetUtcNow().AddMinutes(1));
        var started = await Host.Http.PostAsJsonAsync("api/pipelines/train", new { trainer = "LightGbm", approvalTimeout = "01:00:00" });
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        RejectedPipeline = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        var client = services.GetRequiredService<DurableTaskClient>();
        await WaitForGateAsync(client, RejectedPipeline);
        var rejected = await Host.Http.PostAsJsonAsync($"api/pipelines/train/{RejectedPipeline}/approval", new { approve = false, reason = "the fixture's rejection" });
        Assert.Equal(HttpStatusCode.Accepted, rejected.StatusCode);
        RejectedVersion = (await WaitForEndAsync(client, RejectedPipeline)).Version!;
    }

    /// <summary>Waits (at most ten minutes) until the pipeline awaits a decision; fails when it ended before.</summary>
    public static async Task WaitForGateAsync(DurableTaskClient client, string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        var state = await TrainPipelineInstances.WaitForApprovalGateAsync(client, id, timeout.Token);
        Assert.True(state is { IsCompleted: false }, $"pipeline {id} ended before its gate: {state?.RuntimeStatus} {state?.SerializedOutput} {state?.FailureDetails?.ErrorMessage}");
    }

    /// <summary>Waits (at most ten minutes) until the pipeline has ended; fails unless it completed.</summary>
    public static async Task<TrainPipelineResult> WaitForEndAsync(DurableTaskClient client, string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        var done = await client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
        Assert.True(done.RuntimeStatus == OrchestrationRuntimeStatus.Completed, $"pipeline {id}: {done.RuntimeStatus} {done.FailureDetails?.ErrorMessage}");
        return done.ReadOutputAs<TrainPipelineResult>()!;
    }

    public async Task DisposeAsync()
    {
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }

        await azurite.DisposeAsync();
    }
}

/// <summary>
/// The HTTP contract on a host that holds data: the read endpoints' bodies match their schemas in
/// docs/openapi.json (checked by a JSON Schema validator), and every example of docs/api.http works:
/// sent in file order with the keys and the ids the answers before it named, each answers with a 2xx
/// (or the refusal it is marked to show) whose body matches its schema.
/// </summary>
public sealed class ApiExamplesOverHttpTests(ApiHostFixture fixture) : IClassFixture<ApiHostFixture>
{
    private static readonly JsonObject Doc = ApiDocuments.OpenApi();

    private HttpClient Http => fixture.Host.Http;

    /// <summary>GETs <paramref name="path"/> (under /api), requires a 200 whose body matches the documented schema, returns the body.</summary>
    private async Task<JsonNode> ReadAsync(string path)
    {
        using var response = await Http.GetAsync("api" + path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /api{path}: {(int)response.StatusCode} {body}");
        AssertMatchesSchema("GET", path.Split('?')[0], 200, body);
        return JsonNode.Parse(body)!;
    }

    private static void AssertMatchesSchema(string method, string path, int status, string body)
    {
        var errors = ResponseSchemas.Errors(Doc, method, path, status, body);
        Assert.True(errors is not null, $"{method} /api{path}: docs/openapi.json documents no JSON body for {status}");
        Assert.True(errors.Count == 0, $"{method} /api{path} {status} does not match its schema:\n{string.Join("\n", errors)}\n{(body.Length > 3000 ? body[..3000] + "..." : body)}");
    }

    [Fact]
    public async Task The_read_endpoints_answer_with_bodies_that_match_their_schemas()
    {
        var models = await ReadAsync("/models");
        var versions = models["versions"]!.AsArray();
        Assert.True(versions.Count >= 2, models.ToJsonString());
        Assert.All(versions, v => Assert.Contains((string?)v!["status"], Enum.GetNames<ModelStatus>()));
        foreach (var version in versions.Select(v => (string)v!["version"]!))
        {
            var detail = await ReadAsync($"/models/{version}");
            Assert.Contains((string?)detail["record"]!["status"], Enum.GetNames<ModelStatus>());
            Assert.All(detail["history"]!.AsArray(), h => Assert.Contains((string?)h!["status"], Enum.GetNames<ModelStatus>()));
        }

        // The rejected candidate's detail carries its Sentinel report and the person who rejected it.
        Assert.Contains(versions, v => (string?)v!["version"] == fixture.RejectedVersion && (string?)v["status"] == nameof(ModelStatus.Rejected));
        var report = await ReadAsync($"/models/{fixture.RejectedVersion}");
        Assert.NotNull(report["sentinel"]);
        Assert.Contains(report["history"]!.AsArray(), h => (string?)h!["by"] == LocalHostFixture.DeveloperName && (string?)h["byObjectId"] == LocalHostFixture.DeveloperObjectId);

        foreach (var status in Serverless.Training.PipelinesQuery.Filters)
        {
            await ReadAsync($"/pipelines?status={status}");
        }

        var pipelines = (await ReadAsync("/pipelines"))["pipelines"]!.AsArray();
        Assert.Contains(pipelines, p => (string?)p!["id"] == fixture.RejectedPipeline && (string?)p["outcome"] == "RejectedByApprover");
        foreach (var id in pipelines.Select(p => (string)p!["id"]!))
        {
            await ReadAsync($"/pipelines/train/{id}");
        }

        var alerts = await ReadAsync("/alerts");
        Assert.Contains(alerts["alerts"]!.AsArray(), a => (string?)a!["kind"] == "candidate-rejected");
        Assert.NotEmpty((await ReadAsync("/features"))["names"]!.AsArray());
        Assert.True((bool)(await ReadAsync("/health"))["healthy"]!);
        await ReadAsync("/timemachine/snapshots");
        await ReadAsync("/precompute/similar-titles");
        await ReadAsync($"/archive/members/{fixture.Member}/history?limit=5");
        await ReadAsync($"/archive/titles/{fixture.Title}");
    }

    [Fact]
    public async Task Every_example_of_the_http_file_answers_with_a_2xx_whose_body_matches_its_schema()
    {
        var services = fixture.Host.App.Services;
        var client = services.GetRequiredService<DurableTaskClient>();
        var now = fixture.Host.Clock.GetUtcNow();
        var variables = new Dictionary<string, string>(ApiDocuments.HttpFileVariables())
        {
            ["host"] = LocalFunctionHost.BaseAddress(fixture.Host.App).ToString().TrimEnd('/'),
            ["functionKey"] = ApiHostFixture.FunctionKey,
            ["adminKey"] = ApiHostFixture.AdminKey,
            ["member"] = fixture.Member,
            ["title"] = fixture.Title,
            ["version"] = fixture.Live,
            ["asOf"] = new DateTimeOffset(now.UtcTicks - now.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero).AddDays(-1).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
        };

        // What each start names, for the examples after it.
        var ids = new Dictionary<string, string>
        {
            ["archive-export-start"] = "export",
            ["train-pipeline-start"] = "pipeline",
            ["timemachine-snapshot-start"] = "snapshot",
            ["precompute-start"] = "run",
        };

        var templates = ApiDocuments.HttpFileTemplates();
        Assert.True(templates.Count >= 30, $"{templates.Count} examples");
        using var http = new HttpClient();   // no default key: each example sends its own
        foreach (var template in templates)
        {
            var r = template.Fill(variables);
            var operation = (string)ApiDocuments.Match(Doc, r.Method, r.Path)!.Value.Operation["operationId"]!;
            using var request = new HttpRequestMessage(new HttpMethod(r.Method), ApiDocuments.Fill(template.Url, variables));
            foreach (var (name, value) in r.Headers.Where(h => !h.Key.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)))
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            if (r.Body is not null)
            {
                request.Content = new StringContent(r.Body, Encoding.UTF8, r.Headers["Content-Type"]);
            }

            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            var status = (int)response.StatusCode;
            var why = $"api.http '{r.Title}' ({r.Method} /api{r.Path}{r.Query}): {status} {(body.Length > 2000 ? body[..2000] + "..." : body)}";
            if (r.Expect is { } refusal)
            {
                Assert.True(status == refusal, why);
            }
            else
            {
                Assert.True(status is >= 200 and < 300, why);
            }

            if (JsonBody(response))
            {
                AssertMatchesSchema(r.Method, r.Path, status, body);
            }

            if (ids.TryGetValue(operation, out var variable))
            {
                variables[variable] = (string)JsonNode.Parse(body)!["id"]!;
            }

            // The pipeline must reach its gate before it is listed as awaiting approval and decided,
            // and be published before the live model is rolled back over it; a precompute must have
            // published before its lookups answer from it.
            if (operation == "precompute-start")
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
                var done = await client.WaitForInstanceCompletionAsync(variables["run"], getInputsAndOutputs: true, timeout.Token);
                Assert.True(done.ReadOutputAs<Serverless.Workflows.Precompute.PrecomputeResult>()?.Outcome == Serverless.Workflows.Precompute.PrecomputeOutcome.Published, $"precompute {variables["run"]}: {done.RuntimeStatus} {done.SerializedOutput} {done.FailureDetails?.ErrorMessage}");
            }
            else if (operation == "train-pipeline-start")
            {
                await ApiHostFixture.WaitForGateAsync(client, variables["pipeline"]);
            }
            else if (operation == "train-pipeline-approval")
            {
                Assert.Equal(PipelineOutcome.Published, (await ApiHostFixture.WaitForEndAsync(client, variables["pipeline"])).Outcome);
            }
            else if (operation == "pipelines-list" && r.Query.Contains("awaiting-approval", StringComparison.Ordinal))
            {
                Assert.Contains(JsonNode.Parse(body)!["pipelines"]!.AsArray(), p => (string?)p!["id"] == variables["pipeline"] && p["approvalDeadline"] is not null);
            }
        }

        // The examples did what they say: the approved candidate went live, and the rollback took live
        // back to the fixture's model; the snapshot records who asked, name and object id.
        var registry = services.GetRequiredService<ModelRegistry>();
        Assert.Equal(fixture.Live, (await registry.GetLiveAsync())!.Version);
        using var snapshotTimeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await client.WaitForInstanceCompletionAsync(variables["snapshot"], snapshotTimeout.Token);
        var manifest = await services.GetRequiredService<Serverless.TimeMachine.ContextSnapshotter>().GetManifestAsync(variables["snapshot"]);
        Assert.Equal((LocalHostFixture.DeveloperName, LocalHostFixture.DeveloperObjectId), (manifest?.RequestedBy, manifest?.RequestedByObjectId));
    }

    private static bool JsonBody(HttpResponseMessage response) =>
        response.Content.Headers.ContentType?.MediaType is { } type && (type == "application/json" || type.EndsWith("+json", StringComparison.Ordinal));
}
