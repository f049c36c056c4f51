using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Serverless.Facts;
using Serverless.MovieLens;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.EndToEnd;

[Collection(AzuriteCollection.Name)]
public sealed class ArchiveOverHttpTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset T0 = new(2010, 5, 1, 12, 0, 0, TimeSpan.Zero);

    private static (string, object) Rating(int member, int title, double value, DateTimeOffset at) =>
        (member.ToString(System.Globalization.CultureInfo.InvariantCulture),
         new { id = $"rating:{member}:{title}", kind = "rating", member = $"{member}", title = $"{title}", value, eventTime = at });

    [Fact]
    public async Task Facts_published_to_the_hub_are_served_by_the_live_and_batch_interfaces()
    {
        await using var host = await LocalHostFixture.StartAsync(azurite, T0.AddDays(1));
        await host.PublishFactsAsync(
        [
            ("title:7", new { id = "catalog:7", kind = "catalog", title = "7", eventTime = T0, attributes = new { name = "Heat (1995)", genres = "Action|Crime" } }),
            Rating(1, 7, 5, T0.AddMinutes(1)),
            Rating(1, 8, 2, T0.AddMinutes(2)),
            Rating(2, 7, 4, T0.AddMinutes(3)),
            ("1", new { id = "oops", kind = "rating", member = "1" }),
            ("1", "not even an object"),
        ]);

        var history = await host.Http.GetFromJsonAsync<JsonObject>("api/archive/members/1/history?limit=10");
        Assert.Equal(["rating:1:8", "rating:1:7"], history!["facts"]!.AsArray().Select(f => (string?)f!["id"]));

        var title = await host.Http.GetFromJsonAsync<JsonObject>("api/archive/titles/7");
        Assert.Equal("Heat (1995)", (string?)title!["attributes"]!["name"]);

        var all = new List<string?>();
        string? continuation = null;
        do
        {
            var url = "api/archive/facts?pageSize=2" + (continuation is null ? "" : "&continuation=" + Uri.EscapeDataString(continuation));
            var page = await host.Http.GetFromJsonAsync<JsonObject>(url);
            all.AddRange(page!["facts"]!.AsArray().Select(f => (string?)f!["id"]));
            continuation = (string?)page["continuation"];
        }
        while (continuation is not null);
        Assert.Equal(4, all.Count);

        var letters = await host.Http.GetFromJsonAsync<JsonArray>("api/archive/deadletters");
        Assert.Equal(2, letters!.Count);
        Assert.Contains(letters, l => ((string?)l!["reason"])!.Contains("eventTime is required", StringComparison.Ordinal));
        Assert.Contains(letters, l => ((string?)l!["reason"])!.StartsWith("malformed JSON", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("api/archive/members/1'%20or%20PartitionKey%20ne%20'/history", "character outside")]
    [InlineData("api/archive/members/1/history?limit=-3", "whole number")]
    [InlineData("api/archive/facts?continuation=garbage", "continuation token")]
    [InlineData("api/archive/facts?from=yesterday", "ISO 8601")]
    [InlineData("api/archive/facts?pageSize=100000", "pageSize must be")]
    public async Task Bad_requests_get_400_problem_details(string url, string detail)
    {
        await using var host = await LocalHostFixture.StartAsync(azurite, T0);
        var response = await host.Http.GetAsync(url);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal(400, (int)problem!["status"]!);
        Assert.Contains(detail, (string?)problem["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_titles_get_404_problem_details_and_export_requests_are_validated()
    {
        await using var host = await LocalHostFixture.StartAsync(azurite, T0);
        var missing = await host.Http.GetAsync("api/archive/titles/424242");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);

        var bad = await host.Http.PostAsync("api/archive/exports", new StringContent("{\"pageSize\": \"many\"", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var notFound = await host.Http.GetAsync("api/archive/exports/does-not-exist");
        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);

        var noBody = await host.Http.PostAsync("api/archive/exports", null);
        Assert.Equal(HttpStatusCode.Accepted, noBody.StatusCode);
    }

    [Fact]
    public async Task An_export_orchestration_pages_the_archive_into_blobs_as_of_its_start()
    {
        await using var host = await LocalHostFixture.StartAsync(azurite, T0.AddDays(1));
        await host.PublishFactsAsync(Enumerable.Range(0, 25).Select(i => Rating(i % 4, 100 + i, 3, T0.AddMinutes(i))));

        var start = await host.Http.PostAsJsonAsync("api/archive/exports", new { pageSize = 7 });
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        var id = (string?)(await start.Content.ReadFromJsonAsync<JsonObject>())!["id"];

        // Learned after the export started: must not be in it.
        await host.PublishFactsAsync([Rating(9, 999, 3, T0.AddMinutes(30))]);

        JsonObject? status = null;
        for (var i = 0; i < 300; i++)
        {
            status = await host.Http.GetFromJsonAsync<JsonObject>($"api/archive/exports/{id}");
            if ((string?)status!["status"] is "Completed" or "Failed") { break; }
            await Task.Delay(100);
        }

        Assert.True((string?)status!["status"] == "Completed", status.ToJsonString());
        Assert.Equal(25, (long)status["result"]!["facts"]!);
        Assert.Equal(4, (int)status["result"]!["parts"]!);

        var container = azurite.Blobs().GetBlobContainerClient("exports");
        var lines = new List<string>();
        await foreach (var blob in container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, id + "/", default))
        {
            var text = (await container.GetBlobClient(blob.Name).DownloadContentAsync()).Value.Content.ToString();
            lines.AddRange(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }

        Assert.Equal(25, lines.Count);
        Assert.DoesNotContain(lines, l => l.Contains("rating:9:999", StringComparison.Ordinal));
        Assert.All(lines, l => Assert.NotNull(JsonSerializer.Deserialize<JsonObject>(l)!["ingestTime"]));
    }

    [Fact]
    public async Task MovieLens_replays_in_event_time_order_and_is_queryable()
    {
        var facts = MovieLensFacts.Load(Repo.Path("data", "movielens"), maxRatings: 800).ToList();
        Assert.True(facts.Zip(facts.Skip(1)).All(p => p.First.EventTime <= p.Second.EventTime));
        Assert.All(facts.Where(f => f.Kind == "rating"), f => Assert.True(facts.IndexOf(facts.First(c => c.Kind == "catalog" && c.Title == f.Title)) < facts.IndexOf(f)));

        await using var host = await LocalHostFixture.StartAsync(azurite, facts[0].EventTime!.Value);
        var replay = new Serverless.LocalHost.Replay.MovieLensReplay(host.Hub, host.Clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<Serverless.LocalHost.Replay.MovieLensReplay>.Instance);
        var count = await replay.RunAsync(Repo.Path("data", "movielens"), speed: null, maxRatings: 800, CancellationToken.None);
        await host.Hub.WaitForIdleAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(facts.Count, count);

        var member = facts.First(f => f.Kind == "rating").Member!;
        var expected = facts.Where(f => f.Member == member).OrderByDescending(f => f.EventTime).Take(50).Count();
        var history = await host.Http.GetFromJsonAsync<JsonObject>($"api/archive/members/{member}/history?limit=50");
        Assert.Equal(expected, history!["facts"]!.AsArray().Count);
        Assert.All(history["facts"]!.AsArray(), f => Assert.Equal((DateTimeOffset)f!["eventTime"]!, (DateTimeOffset)f["ingestTime"]!, TimeSpan.FromSeconds(5)));
        var letters = await host.Http.GetFromJsonAsync<JsonArray>("api/archive/deadletters");
        Assert.Empty(letters!);
    }
}
