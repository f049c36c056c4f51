using System.Net;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Precompute;

namespace Serverless.Tests.EndToEnd;

/// <summary>
/// The Hulk over HTTP on the local host: precomputes started and watched through their routes, and
/// lookups answering from the published version (source "precomputed" with the version's T), filling
/// gaps with a named fallback, and refusing malformed input with problem details. Only similar titles
/// and member top-N are precomputed here: a title-stats version would change the vectors other tests
/// of this fixture reproduce.
/// </summary>
public sealed partial class RankingOverHttpTests
{
    private static readonly ConditionalWeakTable<TrainedHostFixture, Task<Dictionary<string, Serverless.Workflows.Precompute.PrecomputeResult>>> Precomputed = [];

    /// <summary>Runs the two lookup precomputes over HTTP once per fixture; returns each dataset's run status.</summary>
    private Task<Dictionary<string, Serverless.Workflows.Precompute.PrecomputeResult>> PrecomputedAsync() => Precomputed.GetValue(fixture, _ => PrecomputeOverHttpAsync());

    private async Task<Dictionary<string, Serverless.Workflows.Precompute.PrecomputeResult>> PrecomputeOverHttpAsync()
    {
        var runs = new Dictionary<string, Serverless.Workflows.Precompute.PrecomputeResult>(StringComparer.Ordinal);
        foreach (var dataset in new[] { DerivedDatasets.SimilarTitles, DerivedDatasets.MemberTopN })
        {
            var started = await Http.PostAsJsonAsync($"api/precompute/{dataset}", new { size = 10, requestedBy = "over-http test" });
            Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
            var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
            Assert.EndsWith($"/api/precompute/runs/{id}", started.Headers.Location!.ToString(), StringComparison.Ordinal);
            JsonObject status;
            var deadline = DateTime.UtcNow.AddMinutes(3);
            do
            {
                await Task.Delay(200);
                status = (await Http.GetFromJsonAsync<JsonObject>($"api/precompute/runs/{id}"))!;
            }
            while ((string?)status["status"] is "Pending" or "Running" && DateTime.UtcNow < deadline);

            Assert.Equal("Completed", (string?)status["status"]);
            runs[dataset] = status["result"].Deserialize<Serverless.Workflows.Precompute.PrecomputeResult>(System.Text.Json.JsonSerializerOptions.Web)!;
        }

        return runs;
    }

    private async Task<PrecomputedEntry> FirstEntryAsync(string dataset)
    {
        var services = fixture.Host.App.Services;
        var current = (await services.GetRequiredService<DerivedVersionRegistry>().CurrentAsync(dataset))!;
        var entries = await services.GetRequiredService<DerivedDataStore>().ReadAllAsync<PrecomputedEntry>(current);
        return entries.Where(e => e.Items.Count > 0).OrderBy(e => e.Key, StringComparer.Ordinal).First();
    }

    [Fact]
    public async Task Precomputes_started_over_HTTP_publish_versions_and_known_ids_get_the_versions_answer_with_its_T()
    {
        var runs = await PrecomputedAsync();
        foreach (var (dataset, run) in runs)
        {
            Assert.Equal(Serverless.Workflows.Precompute.PrecomputeOutcome.Published, run.Outcome);
            var versions = (await Http.GetFromJsonAsync<JsonObject>($"api/precompute/{dataset}"))!;
            Assert.Equal(run.Version, (string?)versions["current"]!["version"]);
            Assert.Null(versions["running"]);

            // Who started it: the signed-in person (name and object id), not the typed "over-http test".
            var inputs = (await fixture.Host.App.Services.GetRequiredService<DerivedVersionRegistry>().CurrentAsync(dataset))!.Inputs;
            Assert.Contains("requestedBy:" + LocalHostFixture.DeveloperName, inputs);
            Assert.Contains("requestedByObjectId:" + LocalHostFixture.DeveloperObjectId, inputs);
        }

        var title = await FirstEntryAsync(DerivedDatasets.SimilarTitles);
        var similar = (await Http.GetFromJsonAsync<LookupResponse>($"api/titles/{title.Key}/similar?count=3"))!;
        Assert.Equal(LookupSources.Precomputed, similar.Source);
        Assert.Equal(runs[DerivedDatasets.SimilarTitles].Version, similar.Version);
        Assert.Equal(runs[DerivedDatasets.SimilarTitles].AsOf, similar.AsOf);
        Assert.Equal(title.Items.Take(3).Select(i => i.Title), similar.Items.Select(i => i.Title));

        var member = await FirstEntryAsync(DerivedDatasets.MemberTopN);
        var recommended = (await Http.GetFromJsonAsync<LookupResponse>($"api/members/{member.Key}/recommendations?count=5"))!;
        Assert.Equal(LookupSources.Precomputed, recommended.Source);
        Assert.Equal(runs[DerivedDatasets.MemberTopN].Version, recommended.Version);
        Assert.Equal(fixture.Trained.Manifest.Version, recommended.ModelVersion);
        Assert.Equal(member.Items.Take(5).Select(i => i.Title), recommended.Items.Select(i => i.Title));
    }

    [Fact]
    public async Task Unknown_well_formed_ids_get_the_fallback_and_the_answer_names_its_source()
    {
        await PrecomputedAsync();
        var title = (await Http.GetFromJsonAsync<LookupResponse>("api/titles/99999999/similar?count=4"))!;
        Assert.Equal(LookupSources.Popularity, title.Source); // not in the catalog: no genres to go by
        Assert.Contains("unknown title", title.Reason, StringComparison.Ordinal);
        Assert.Equal(4, title.Items.Count);
        Assert.NotNull(title.Version);

        var member = (await Http.GetFromJsonAsync<LookupResponse>("api/members/new-member-over-http/recommendations?count=4"))!;
        Assert.Contains(member.Source, new[] { LookupSources.RankModel, LookupSources.RankSubstitute });
        Assert.Contains("member not in the version", member.Reason, StringComparison.Ordinal);
        Assert.Equal(4, member.Items.Count);
    }

    [Theory]
    [InlineData("api/titles/a'b/similar", "character outside")]
    [InlineData("api/members/m*1/recommendations", "character outside")]
    [InlineData("api/titles/1/similar?count=0", "count must be a whole number 1..100")]
    [InlineData("api/members/1/recommendations?count=abc", "count must be a whole number 1..100")]
    [InlineData("api/titles/1/similar?count=101", "count must be a whole number 1..100")]
    [InlineData("api/titles/1/similar?limit=5", "unknown query parameter 'limit'")]
    [InlineData("api/precompute/everything", "unknown dataset 'everything'")]
    public async Task Malformed_lookups_and_precompute_routes_are_400_problem_details(string path, string detail)
    {
        await PrecomputedAsync();
        var response = await Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(detail, (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("everything", "{}", "unknown dataset 'everything'")]
    [InlineData("similar-titles", "{\"size\":0}", "size must be 1..100")]
    [InlineData("similar-titles", "{\"asOf\":\"9999-01-01T00:00:00Z\"}", "is in the future")]
    [InlineData("similar-titles", "{\"snapshot\":\"not-a-snapshot\"}", "snapshot must be a fact snapshot name")]
    [InlineData("similar-titles", "{\"size\":", "malformed JSON")]
    public async Task Bad_precompute_starts_are_400_problem_details(string dataset, string body, string detail)
    {
        var response = await Http.PostAsync($"api/precompute/{dataset}", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(detail, (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"], StringComparison.Ordinal);
    }
}
