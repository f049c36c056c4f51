using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Serverless.Hosting;
using Serverless.LocalHost.Replay;
using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.MovieLens;
using Serverless.Ranking;
using Serverless.Tests.EndToEnd;
using Serverless.Tests.Fixtures;
using Serverless.TimeMachine;
using Serverless.Training;

namespace Serverless.Tests.Telemetry;

/// <summary>
/// The platform meter as the app wires it: the local host's own container (AddServerlessPlatform, the
/// functions' composition) builds the serving monitor, the feature-log buffer and the skew meter, and what
/// they count over HTTP reaches the host's Serverless.Platform meter, heard by a MeterListener as an exporter hears it.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class PlatformMetricsOverHttpTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task A_Substitute_answer_a_logged_request_a_skew_run_and_a_drop_on_the_real_host_reach_the_platform_meter()
    {
        var facts = MovieLensFacts.Load(Repo.Path("data", "movielens"), maxRatings: 6_000);
        await using var host = await LocalHostFixture.StartAsync(azurite, facts[0].EventTime!.Value, new Dictionary<string, string?> { ["Archive:BatchPagesPerSecond"] = "2000" });
        var services = host.App.Services;
        var metrics = services.GetRequiredService<PlatformMetrics>();
        using var heard = new MeterRecording(metrics.Meter);

        // No model yet: the Substitute answers, counted with its reason.
        var substitute = await (await host.Http.PostAsJsonAsync("api/rank", new { member = "1", candidates = new[] { "1", "2", "3" } })).Content.ReadFromJsonAsync<RankResponse>();
        Assert.True(substitute!.Fallback);
        Assert.Equal(1, heard.Sum("serverless.rank.answers", (PlatformMetrics.AnsweredBy, "substitute"), (PlatformMetrics.Reason, substitute.FallbackReason!)));
        Assert.Equal(0, heard.Sum("serverless.rank.answers", (PlatformMetrics.AnsweredBy, "model")));

        // A model trained on the replayed history answers and logs the request (every member is sampled by default).
        await new MovieLensReplay(host.Hub, host.Clock, NullLogger<MovieLensReplay>.Instance).PublishAsync(facts, null, null, CancellationToken.None);
        await host.Hub.WaitForIdleAsync(TimeSpan.FromMinutes(2));
        var trained = await services.GetRequiredService<TrainingJob>().RunAsync(new TrainingJobRequest(TrainerKind.LightGbm, null, Publish: true));
        Assert.True(trained.Published, trained.Sentinel.ToString());
        await services.GetRequiredService<LiveModel>().RefreshAsync();
        var answered = await (await host.Http.PostAsJsonAsync("api/rank", new { member = "1", count = 5 })).Content.ReadFromJsonAsync<RankResponse>();
        Assert.False(answered!.Fallback, answered.FallbackReason);
        Assert.True(answered.Logged);
        Assert.Equal(1, heard.Sum("serverless.rank.answers", (PlatformMetrics.AnsweredBy, "model")));
        Assert.Equal(1, heard.Sum("serverless.lumberjack.logged"));
        Assert.True(heard.Sum("serverless.lumberjack.logged_vectors") >= answered.Items.Count, "every scored candidate is a logged vector");

        // The skew meter over HTTP, once the logged request has landed: what it compared is counted.
        await services.GetRequiredService<FeatureLogBuffer>().DrainAsync(TimeSpan.FromMinutes(1));
        await host.Hub.WaitForIdleAsync(TimeSpan.FromMinutes(1));
        var measured = await host.Http.PostAsJsonAsync("api/timemachine/skew", new { maxRequests = 50 });
        Assert.Equal(HttpStatusCode.OK, measured.StatusCode);
        var skew = (await measured.Content.ReadFromJsonAsync<SkewReport>())!;
        Assert.True(skew.RequestsCompared >= 1, skew.Summary());
        // At least: the host's hourly skew timer (wall clock, at :30) may add a run of its own meanwhile.
        Assert.True(heard.Sum("serverless.skew.requests") >= skew.RequestsCompared, skew.Summary());
        Assert.True(heard.Sum("serverless.skew.values") >= skew.ValuesCompared && skew.ValuesCompared > 0, skew.Summary());

        // A request logged after the host stopped is dropped, and counted.
        await host.App.StopAsync();
        var buffer = services.GetRequiredService<FeatureLogBuffer>();
        var dropped = buffer.Dropped;
        Assert.False(buffer.TryLog(LoggedRequest.Capture("late", host.Clock.GetUtcNow(), "1", answered.ModelVersion!, answered.ConfigHash, host.Clock.GetUtcNow(), false, ["1"], [[1f]], [0.5f], [0])));
        Assert.Equal(dropped + 1, buffer.Dropped);
        Assert.Equal(buffer.Dropped, heard.Sum("serverless.lumberjack.dropped"));
    }
}
