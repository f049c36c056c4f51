using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML;
using Serverless.Archive;
using Serverless.Features;
using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.MovieLens;
using Serverless.Ranking;
using Serverless.Tests.Fixtures;
using Serverless.TimeMachine;
using Serverless.Training;

namespace Serverless.Tests.EndToEnd;

/// <summary>
/// A local host with 12,000 replayed MovieLens ratings and a LightGBM model trained on them by the
/// training job and published: the state `scripts/run.sh` reaches, on a smaller slice.
/// </summary>
public sealed class TrainedHostFixture : IAsyncLifetime
{
    private readonly AzuriteFixture azurite = new();

    public LocalHostFixture Host { get; private set; } = null!;
    public TrainingJobResult Trained { get; private set; } = null!;
    public AzuriteFixture Azurite => azurite;

    public async Task InitializeAsync()
    {
        await azurite.InitializeAsync();
        var facts = MovieLensFacts.Load(Repo.Path("data", "movielens"), maxRatings: 12_000);
        Host = await LocalHostFixture.StartAsync(azurite, facts[0].EventTime!.Value, new Dictionary<string, string?>
        {
            ["Archive:BatchPagesPerSecond"] = "2000",

            // The fixture's logged traffic is a handful of test members, so the Sentinel's shadow and
            // drift checks would judge pipeline candidates on it: they are skipped here (visibly, in the
            // report). The checks themselves are tested in SentinelChecksTests.
            ["Sentinel:MinShadowRows"] = "1000000",
            ["Sentinel:MaxShadowRows"] = "1000000",
        });
        var replay = new Serverless.LocalHost.Replay.MovieLensReplay(Host.Hub, Host.Clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<Serverless.LocalHost.Replay.MovieLensReplay>.Instance);
        await replay.PublishAsync(facts, null, null, CancellationToken.None);
        await Host.Hub.WaitForIdleAsync(TimeSpan.FromMinutes(2));
        Trained = await Host.App.Services.GetRequiredService<TrainingJob>().RunAsync(new TrainingJobRequest(TrainerKind.LightGbm, null, Publish: true));
        await Host.App.Services.GetRequiredService<LiveModel>().RefreshAsync();
    }

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await azurite.DisposeAsync();
    }
}

public sealed partial class RankingOverHttpTests(TrainedHostFixture fixture) : IClassFixture<TrainedHostFixture>
{
    private HttpClient Http => fixture.Host.Http;

    [Fact]
    public async Task The_trained_model_passed_the_Sentinel_and_is_served()
    {
        Assert.True(fixture.Trained.Published);
        Assert.True(fixture.Trained.Sentinel.Passed);

        // The drift reference knows its own members: effective members of the training window, several, at most every member.
        Assert.InRange(fixture.Trained.Manifest.FeatureProfileMembers ?? 0, 2, 610);   // ml-latest-small has 610 members
        var response = await Http.GetAsync("api/health");
        var health = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.True(response.StatusCode == HttpStatusCode.OK, health.ToJsonString());
        Assert.Equal(("serving", true), ((string?)health["status"], (bool)health["healthy"]!));
        Assert.Empty(health["problems"]!.AsArray());
        Assert.Equal(fixture.Trained.Manifest.Version, (string?)health["model"]);
        Assert.Equal(FeatureConfig.Default.Hash, (string?)health["configHash"]);
        Assert.Equal("local hub", (string?)health["featureLog"]!["lagMeasured"]);
        Assert.Equal(0.01, (double)health["thresholds"]!["maxSubstituteShare"]!);
    }

    /// <summary>The health report, whether the instance calls itself healthy (200) or not (503).</summary>
    internal static async Task<JsonObject> HealthAsync(HttpClient http)
    {
        var response = await http.GetAsync("api/health");
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, $"health answered {response.StatusCode}");
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    [Fact]
    public async Task Rank_returns_calibrated_scores_in_order_with_model_hash_and_log_id()
    {
        var response = await Http.PostAsJsonAsync("api/rank", new { member = "1", count = 5 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<RankResponse>();
        Assert.False(body!.Fallback);
        Assert.Equal(fixture.Trained.Manifest.Version, body.ModelVersion);
        Assert.Equal(FeatureConfig.Default.Hash, body.ConfigHash);
        Assert.Equal(32, body.LogId.Length);
        Assert.Equal(5, body.Items.Count);
        Assert.All(body.Items, i => Assert.InRange(i.Score, 0f, 1f));
        Assert.Equal(body.Items.Select(i => i.Score).OrderDescending(), body.Items.Select(i => i.Score));
        Assert.Equal(Enumerable.Range(0, 5), body.Items.Select(i => i.Position));
    }

    [Fact]
    public async Task Unknown_members_and_titles_get_sensible_answers()
    {
        var cold = await Http.PostAsJsonAsync("api/rank", new { member = "never-seen-member", candidates = new[] { "1", "2", "no-such-title" }, count = 3 });
        Assert.Equal(HttpStatusCode.OK, cold.StatusCode);
        var body = await cold.Content.ReadFromJsonAsync<RankResponse>();
        Assert.False(body!.Fallback);
        Assert.Equal(3, body.Items.Count);
        Assert.All(body.Items, i => Assert.True(float.IsFinite(i.Score)));
    }

    [Theory]
    [InlineData("{\"member\":\"1\",\"candidates\":[]}", "candidates must hold")]
    [InlineData("{\"member\":\"1\",\"candidates\":[\"5\",\"5\"]}", "must not repeat")]
    [InlineData("{\"member\":\"1\",\"count\":0}", "count must be")]
    [InlineData("{\"member\":\"1\",\"count\":101}", "count must be")]
    [InlineData("{\"candidates\":[\"5\"]}", "member is required")]
    [InlineData("{\"member\":\"1' or 1 eq 1\"}", "character outside")]
    [InlineData("{\"member\":\"1\",\"candidates\":[\"a/b\"]}", "character outside")]
    [InlineData("{\"member\":", "malformed JSON")]
    [InlineData("{\"member\":\"1\",\"asOf\":\"1997-01-01T00:00:00Z\"}", "before the live model's data watermark")]
    [InlineData("{\"member\":\"1\",\"asOf\":\"9999-01-01T00:00:00Z\"}", "is in the future")]
    public async Task Bad_rank_requests_get_400_problem_details(string json, string detail)
    {
        var response = await Http.PostAsync("api/rank", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(detail, (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_body_over_64_KiB_is_413_with_or_without_a_content_length(bool chunked)
    {
        var json = "{\"member\":\"1\",\"candidates\":[" + string.Join(",", Enumerable.Range(0, 12000).Select(i => $"\"{i}\"")) + "]}";
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/rank") { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.TransferEncodingChunked = chunked;
        if (chunked)
        {
            request.Content.Headers.ContentLength = null;
        }

        var response = await Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("at most 65536 bytes", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Logged_feature_vectors_are_reproduced_exactly_offline_from_the_archive_and_the_snapshot()
    {
        var member = "3";
        var ranked = await (await Http.PostAsJsonAsync("api/rank", new { member, count = 10 })).Content.ReadFromJsonAsync<RankResponse>();
        Assert.True(ranked!.Logged);
        var services = fixture.Host.App.Services;
        await services.GetRequiredService<FeatureLogBuffer>().DrainAsync(TimeSpan.FromSeconds(30));
        await fixture.Host.Hub.WaitForIdleAsync(TimeSpan.FromSeconds(30));

        var store = services.GetRequiredService<FeatureLogStore>();
        var logged = (await store.ReadAsync()).Where(i => i.Record.LogId == ranked.LogId).ToList();
        Assert.Equal(RankService.DefaultPool, logged.Count);

        // Offline: the member's history as of the logged watermark, the model's fact snapshot, the same encoder.
        var encoder = new FeatureEncoder(FeatureConfig.Default);
        var facts = await services.GetRequiredService<FactSnapshotStore>().LoadAsync(fixture.Trained.Snapshot, default);
        var data = ServingData.Build(facts, TrainingJob.WatermarkOf(fixture.Trained.Snapshot), encoder.Config, fixture.Trained.Snapshot);
        var record = logged[0].Record;
        var history = await services.GetRequiredService<ArchiveReader>().HistoryAsync(member, encoder.Config.HistoryLimit, record.Watermark);
        var profile = encoder.Profile(new MemberHistory(member, history.Select(h => h.Fact).ToList()), record.RequestTime, data.Catalog, data.Stats);
        foreach (var impression in logged)
        {
            Assert.Equal(impression.Record.Features, encoder.Encode(profile, impression.Record.Title));
        }
    }

    [Fact]
    public async Task A_corrupt_or_mismatched_model_never_replaces_the_good_one()
    {
        var services = fixture.Host.App.Services;
        var registry = services.GetRequiredService<ModelRegistry>();
        var store = services.GetRequiredService<ModelStore>();
        var good = fixture.Trained.Manifest;

        // A zip of garbage with a correct manifest.
        var garbage = good with { Version = "garbage-1" };
        await store.SaveAsync(garbage, BinaryData.FromBytes(new byte[] { 1, 2, 3, 4, 5 }));
        await PublishAsync(registry, garbage);
        var refused = await (await Http.PostAsync("api/models/refresh", null)).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal(good.Version, (string?)refused!["model"]);
        Assert.False((bool)refused["sentinel"]!["passed"]!);

        // A model trained with another feature config (different names and hash), naming the good model's
        // snapshot, so its dependent data loads and the refusal is the config hash check's own.
        using var other = SyntheticModel("other-config-1", good.Dependencies);
        await store.SaveAsync(other);
        await PublishAsync(registry, other.Manifest);
        var otherRefused = await (await Http.PostAsync("api/models/refresh", null)).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal(good.Version, (string?)otherRefused!["model"]);
        var otherChecks = otherRefused["sentinel"]!["checks"]!.AsArray();
        Assert.True((bool)otherChecks.Single(c => (string?)c!["name"] == LiveModel.DependentDataAvailable)!["passed"]!);
        Assert.False((bool)otherChecks.Single(c => (string?)c!["name"] == ModelSentinel.FeatureConfigHash)!["passed"]!);
        Assert.False((bool)otherChecks.Single(c => (string?)c!["name"] == ModelSentinel.FeatureNames)!["passed"]!);

        // A saved ML.NET model with the right manifest, schema and hash whose probabilities are NaN.
        using (var served = await store.LoadAsync(good.Version))
        using (var nan = NaNModel(served, good with { Version = "nan-1" }))
        {
            await store.SaveAsync(nan);
        }

        await PublishAsync(registry, good with { Version = "nan-1" });
        var nanRefused = await (await Http.PostAsync("api/models/refresh", null)).Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal(good.Version, (string?)nanRefused!["model"]);
        var nanChecks = nanRefused["sentinel"]!["checks"]!.AsArray();
        Assert.True((bool)nanChecks.Single(c => (string?)c!["name"] == ModelSentinel.ArtifactLoads)!["passed"]!);
        var probe = nanChecks.Single(c => (string?)c!["name"] == ModelSentinel.ProbeScoresValid)!;
        Assert.False((bool)probe["passed"]!);
        Assert.Contains("NaN", (string?)probe["measured"], StringComparison.Ordinal);

        var health = await HealthAsync(Http);
        Assert.Equal(good.Version, (string?)health["model"]);
        var alerts = health["alerts"]!.AsArray().Select(a => (string?)a!["version"]).ToList();
        Assert.Contains("garbage-1", alerts);
        Assert.Contains("other-config-1", alerts);
        Assert.Contains("nan-1", alerts);
        var ranked = await (await Http.PostAsJsonAsync("api/rank", new { member = "1" })).Content.ReadFromJsonAsync<RankResponse>();
        Assert.Equal(good.Version, ranked!.ModelVersion);

        // Put the good model back as live for the other tests (the loader's republish already did).
        await RestoreAsync(registry, good.Version);
    }

    [Fact]
    public async Task A_refused_live_version_is_alerted_and_live_moves_back_to_the_version_that_passed()
    {
        var services = fixture.Host.App.Services;
        var registry = services.GetRequiredService<ModelRegistry>();
        var store = services.GetRequiredService<ModelStore>();
        var good = fixture.Trained.Manifest;
        var bad = good with { Version = "refused-live-1" };
        await store.SaveAsync(bad, BinaryData.FromBytes(new byte[] { 9, 9, 9 }));
        await PublishAsync(registry, bad);

        await Http.PostAsync("api/models/refresh", null);

        var live = (await registry.GetLiveAsync())!;
        Assert.Equal(good.Version, live.Version);
        Assert.Equal(ModelStatus.Rejected, (await registry.GetAsync(bad.Version))!.Status);
        Assert.Contains("republished by the serving loader", (await registry.GetHistoryAsync())[^1].Reason, StringComparison.Ordinal);
        var alerts = (await Http.GetFromJsonAsync<JsonObject>($"api/alerts?version={bad.Version}"))!["alerts"]!.AsArray();
        Assert.Equal([Serverless.Sentinel.AlertKinds.Republished, Serverless.Sentinel.AlertKinds.LoaderRefused], alerts.Select(a => (string?)a!["kind"]));   // newest first
        // The refusal names every check that failed, not only the first.
        Assert.Null(alerts[1]!["check"]);
        Assert.StartsWith("refused by the Sentinel: " + string.Join(", ", ModelSentinel.ArtifactLoads, ModelSentinel.FeatureConfigHash, ModelSentinel.FeatureNames, ModelSentinel.ProbeScoresValid) + ";",
            (string?)alerts[1]!["detail"], StringComparison.Ordinal);
        Assert.StartsWith("serving:", (string?)alerts[1]!["source"], StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, (await Http.GetAsync("api/alerts?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Http.GetAsync("api/alerts?kind=nope")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Http.GetAsync("api/alerts?version=a%20b")).StatusCode);
        var ranked = await (await Http.PostAsJsonAsync("api/rank", new { member = "1" })).Content.ReadFromJsonAsync<RankResponse>();
        Assert.Equal(good.Version, ranked!.ModelVersion);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_cold_instance_never_starts_on_a_refused_model_unless_republish_is_off(bool republish)
    {
        var services = fixture.Host.App.Services;
        var registry = services.GetRequiredService<ModelRegistry>();
        var store = services.GetRequiredService<ModelStore>();
        var good = fixture.Trained.Manifest;
        var bad = good with { Version = $"cold-refused-{(republish ? "on" : "off")}" };
        await store.SaveAsync(bad, BinaryData.FromBytes(new byte[] { 7, 7 }));
        await PublishAsync(registry, bad);

        // A new instance: nothing loaded yet, the alias on the bad version.
        using var cold = new LiveModel(registry, store, services.GetRequiredService<Serverless.Sentinel.DependencyResolvers>(), services.GetRequiredService<FeatureEncoder>(),
            TimeProvider.System, services.GetRequiredService<Serverless.Sentinel.SentinelAlerts>(),
            Microsoft.Extensions.Options.Options.Create(new SentinelOptions { RepublishOnRefusal = republish }), Microsoft.Extensions.Logging.Abstractions.NullLogger<LiveModel>.Instance);
        var report = await cold.RefreshAsync();

        Assert.False(report!.Passed);
        if (republish)
        {
            Assert.Equal(good.Version, (await registry.GetLiveAsync())!.Version);
            Assert.Equal(good.Version, cold.Current!.Manifest.Version);   // loaded in the same refresh
        }
        else
        {
            Assert.Equal(bad.Version, (await registry.GetLiveAsync())!.Version);
            Assert.Null(cold.Current);
            Assert.Equal(Serverless.Sentinel.AlertKinds.LoaderRefused, Assert.Single(await services.GetRequiredService<Serverless.Sentinel.SentinelAlerts>().ListAsync(version: bad.Version)).Kind);
        }

        await RestoreAsync(registry, good.Version);
    }

    [Fact]
    public async Task A_model_whose_golden_probes_this_encoder_does_not_reproduce_is_refused_naming_the_moved_features()
    {
        // Fault 8 as serving sees it: the same config and hash, but the vectors training made differ
        // from what this instance's encoder computes (as after a change to the encoder's code).
        var services = fixture.Host.App.Services;
        var registry = services.GetRequiredService<ModelRegistry>();
        var store = services.GetRequiredService<ModelStore>();
        var good = fixture.Trained.Manifest;
        var golden = good.GoldenProbes!;
        var moved = good.FeatureNames.ToList().IndexOf(Serverless.Features.FeatureNames.TitlePopularity);
        Assert.True(moved >= 0);
        var tampered = good with
        {
            Version = "code-moved-1",
            GoldenProbes = golden with { Probes = golden.Probes.Select(p => p with { Features = p.Features.Select((v, f) => f == moved ? v + 0.25f : v).ToArray() }).ToList() },
        };
        using (var served = await store.LoadAsync(good.Version))
        {
            await store.SaveAsync(new TrainedModel(tampered, served.Transformer, served.InputSchema));
        }

        await PublishAsync(registry, tampered);
        var refused = await (await Http.PostAsync("api/models/refresh", null)).Content.ReadFromJsonAsync<JsonObject>();

        Assert.Equal(good.Version, (string?)refused!["model"]);
        var check = refused["sentinel"]!["checks"]!.AsArray().Single(c => (string?)c!["name"] == Serverless.Sentinel.SentinelChecks.FeatureCodeSync)!;
        Assert.False((bool)check["passed"]!);
        Assert.Contains($"features moved: {good.FeatureNames[moved]}", (string?)check["measured"], StringComparison.Ordinal);
        Assert.Contains($"{golden.Probes.Count} vectors", (string?)check["measured"], StringComparison.Ordinal);
        var ranked = await (await Http.PostAsJsonAsync("api/rank", new { member = "1" })).Content.ReadFromJsonAsync<RankResponse>();
        Assert.Equal(good.Version, ranked!.ModelVersion);

        await RestoreAsync(registry, good.Version);
    }

    [Fact]
    public async Task The_training_job_and_the_loader_apply_the_configured_Sentinel_thresholds_and_a_candidate_refused_at_training_keeps_its_report()
    {
        var services = fixture.Host.App.Services;
        var registry = services.GetRequiredService<ModelRegistry>();
        var strict = Microsoft.Extensions.Options.Options.Create(new SentinelOptions { MinProbeRows = 1_000_000, RepublishOnRefusal = false });

        // Training's own Sentinel reads the configured thresholds (here: more probe rows than any model has), and the
        // pipeline's training step stores the report of the candidate it refuses with the version.
        var job = ActivatorUtilities.CreateInstance<TrainingJob>(services, strict);
        var candidate = await new Serverless.Workflows.TrainPipeline.TrainCandidateActivity(job, services.GetRequiredService<Serverless.Sentinel.SentinelAlerts>())
            .RunAsync(null!, new Serverless.Workflows.TrainPipeline.TrainPipelineRequest(TrainerKind.LogisticRegression, false, TimeSpan.FromHours(1), "strict test", VersionSuffix: "strict"));

        Assert.False(candidate.SentinelPassed);
        Assert.Equal(ModelStatus.Rejected, (await registry.GetAsync(candidate.Version))!.Status);
        var stored = (await Http.GetFromJsonAsync<JsonObject>($"api/models/{candidate.Version}"))!["sentinel"]!;
        Assert.Equal(candidate.Version, (string?)stored["version"]);
        Assert.False((bool)stored["passed"]!);
        var failed = Assert.Single(stored["checks"]!.AsArray(), c => !(bool)c!["passed"]!)!;
        Assert.Equal(ModelSentinel.ProbeScoresValid, (string?)failed["name"]);
        Assert.StartsWith(">= 1000000 probe rows", (string?)failed["threshold"], StringComparison.Ordinal);

        // The serving loader too: an instance with these thresholds refuses the model the configured defaults serve.
        using var cold = new LiveModel(registry, services.GetRequiredService<ModelStore>(), services.GetRequiredService<Serverless.Sentinel.DependencyResolvers>(),
            services.GetRequiredService<FeatureEncoder>(), TimeProvider.System, services.GetRequiredService<Serverless.Sentinel.SentinelAlerts>(), strict,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<LiveModel>.Instance);
        var refused = await cold.RefreshAsync();
        Assert.Equal(ModelSentinel.ProbeScoresValid, Assert.Single(refused!.Failures).Name);
        Assert.Null(cold.Current);
        Assert.Equal(fixture.Trained.Manifest.Version, (await registry.GetLiveAsync())!.Version);
    }

    /// <summary>Makes <paramref name="version"/> live again (unless the loader's republish already did) and loads it.</summary>
    private async Task RestoreAsync(ModelRegistry registry, string version)
    {
        var live = await registry.GetLiveAsync();
        if (live?.Version != version)
        {
            await registry.SetStatusAsync(version, ModelStatus.Approved, "restore");
            await registry.PublishAsync(version, live?.Version, "restore");
        }

        await Http.PostAsync("api/models/refresh", null);
    }

    [Fact]
    public async Task A_new_model_is_swapped_in_while_requests_keep_being_answered()
    {
        var services = fixture.Host.App.Services;
        var registry = services.GetRequiredService<ModelRegistry>();
        var store = services.GetRequiredService<ModelStore>();
        var good = fixture.Trained.Manifest;
        var next = good with { Version = "swap-2" };
        var served = await store.LoadAsync(good.Version);
        await store.SaveAsync(new TrainedModel(next, served.Transformer, served.InputSchema));
        await PublishAsync(registry, next);

        // Two clients rank without pause while the instance checks and swaps in the new version.
        var answers = new System.Collections.Concurrent.ConcurrentBag<(bool AfterSwap, HttpStatusCode Status, RankResponse? Body)>();
        var swapped = 0;
        var afterSwap = 0;
        var clients = Enumerable.Range(0, 2).Select(c => Task.Run(async () =>
        {
            for (var i = 0; Volatile.Read(ref afterSwap) < 40 && i < 5_000; i++)
            {
                var after = Volatile.Read(ref swapped) == 1;
                var response = await Http.PostAsJsonAsync("api/rank", new { member = $"{((i * 2) + c) % 50 + 1}" });
                answers.Add((after, response.StatusCode, response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<RankResponse>() : null));
                if (after) { Interlocked.Increment(ref afterSwap); }
            }
        })).ToList();
        while (answers.Count < 20) { await Task.Delay(10); }

        // A request that took the old model before the swap (a lease) may take as long as it likes.
        var live = services.GetRequiredService<LiveModel>();
        var held = live.Acquire();
        var refresh = await (await Http.PostAsync("api/models/refresh", null)).Content.ReadFromJsonAsync<JsonObject>();
        Volatile.Write(ref swapped, 1);
        await Task.WhenAll(clients);

        Assert.Equal("swap-2", live.Current!.Manifest.Version);
        Assert.Equal(good.Version, held.Bundle!.Manifest.Version);
        var probe = SyntheticProbe(held.Bundle.Scorer.FeatureCount);
        held.Bundle.Scorer.ScoreBatch(probe, new float[probe.Count]);
        Assert.False(held.Bundle.IsDisposed);
        held.Dispose();
        Assert.True(held.Bundle.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => held.Bundle.Scorer.ScoreBatch(probe, new float[probe.Count]));

        Assert.Equal("swap-2", (string?)refresh!["model"]);
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.All(answers, a => Assert.False(a.Body!.Fallback));
        Assert.Contains(answers, a => !a.AfterSwap && a.Body!.ModelVersion == good.Version);
        Assert.All(answers.Where(a => a.AfterSwap), a => Assert.Equal("swap-2", a.Body!.ModelVersion));
        Assert.True(answers.Count(a => a.AfterSwap) >= 40);

        await registry.SetStatusAsync(good.Version, ModelStatus.Approved, "restore");
        await registry.PublishAsync(good.Version, (await registry.GetLiveAsync())!.Version, "restore");
        await Http.PostAsync("api/models/refresh", null);
    }

    [Fact]
    public async Task The_training_pipeline_trains_waits_for_a_person_and_publishes_over_HTTP()
    {
        var services = fixture.Host.App.Services;
        var registry = services.GetRequiredService<ModelRegistry>();
        var good = fixture.Trained.Manifest;
        fixture.Host.Clock.AdvanceTo(fixture.Host.Clock.GetUtcNow().AddMinutes(1));   // a new version id

        Assert.Equal(HttpStatusCode.BadRequest, (await Http.PostAsJsonAsync("api/pipelines/train", new { approvalTimeout = "90.00:00:00" })).StatusCode);
        var started = await Http.PostAsJsonAsync("api/pipelines/train", new { trainer = "LightGbm", approvalTimeout = "01:00:00", requestedBy = "ci" });
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var id = (string?)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"];

        // Deciding too early (still training) is a conflict; unknown pipelines are 404; a typed name is refused
        // (who decides is the signed-in person: here the local host's development identity).
        var early = await Http.PostAsJsonAsync($"api/pipelines/train/{id}/approval", new { approve = false, reason = "too early" });
        Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("api/pipelines/train/nope")).StatusCode);
        var typed = await Http.PostAsJsonAsync($"api/pipelines/train/{id}/approval", new { approve = true, by = "alice" });
        Assert.Equal(HttpStatusCode.BadRequest, typed.StatusCode);
        Assert.Contains("unknown field 'by'", await typed.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        JsonObject status;
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3)))
        {
            do
            {
                await Task.Delay(200, timeout.Token);
                status = (await Http.GetFromJsonAsync<JsonObject>($"api/pipelines/train/{id}", timeout.Token))!;
            }
            while ((string?)status["progress"]?["stage"] != "awaiting-approval" && (string?)status["status"] is "Running" or "Pending");
        }

        if ((string?)status["status"] == "Running")
        {
            var version = (string?)status["progress"]!["candidate"]!["version"];
            Assert.Equal(ModelStatus.Candidate, (await registry.GetAsync(version!))!.Status);
            var decided = await Http.PostAsJsonAsync($"api/pipelines/train/{id}/approval", new { approve = true, reason = "metrics fine" });
            Assert.Equal(HttpStatusCode.Accepted, decided.StatusCode);
        }

        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3)))
        {
            do
            {
                await Task.Delay(200, timeout.Token);
                status = (await Http.GetFromJsonAsync<JsonObject>($"api/pipelines/train/{id}", timeout.Token))!;
            }
            while ((string?)status["status"] is "Running" or "Pending");
        }

        Assert.Equal("Completed", (string?)status["status"]);
        Assert.True((string?)status["result"]!["outcome"] == "Published", status.ToJsonString());
        var published = (string?)status["result"]!["version"];
        Assert.NotEqual(good.Version, published);
        Assert.Equal(published, (await registry.GetLiveAsync())!.Version);
        var history = await registry.GetStatusHistoryAsync(published!);
        Assert.Equal((ModelStatus.Candidate, LocalHostFixture.DeveloperName, LocalHostFixture.DeveloperObjectId), (history[0].Status, history[0].By, history[0].ByObjectId));   // the pipeline's requester: the signed-in person (name and object id), not the typed "ci"
        var approved = Assert.Single(history, h => h.Status == ModelStatus.Approved);
        Assert.Equal((LocalHostFixture.DeveloperName, LocalHostFixture.DeveloperObjectId), (approved.By, approved.ByObjectId));
        Assert.Equal(HttpStatusCode.Conflict, (await Http.PostAsJsonAsync($"api/pipelines/train/{id}/approval", new { approve = false })).StatusCode);

        await Http.PostAsync("api/models/refresh", null);
        Assert.Equal(published, (string?)(await HealthAsync(Http))["model"]);

        await registry.PublishAsync(good.Version, published, "restore");
        await Http.PostAsync("api/models/refresh", null);
    }

    [Fact]
    public async Task A_sample_rate_below_one_logs_exactly_the_sampled_members_every_time_through_the_ranking_path()
    {
        var lumberjack = fixture.Host.App.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<LumberjackOptions>>().Value;
        var rate = lumberjack.SampleRate;
        lumberjack.SampleRate = 0.5;
        try
        {
            var members = Enumerable.Range(1, 40).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
            var logged = new Dictionary<string, List<bool>>();
            foreach (var member in members.Concat(members))
            {
                var response = await (await Http.PostAsJsonAsync("api/rank", new { member, candidates = new[] { "1", "2", "3" } })).Content.ReadFromJsonAsync<RankResponse>();
                Assert.False(response!.Fallback, response.FallbackReason);
                (logged.TryGetValue(member, out var list) ? list : logged[member] = []).Add(response.Logged);
            }

            // Per member, so a member's session stays whole: both requests agree with the sampler, and some members are left out.
            Assert.All(members, m => Assert.Equal([FeatureLogSampler.IsSampled(m, 0.5), FeatureLogSampler.IsSampled(m, 0.5)], logged[m]));
            Assert.InRange(members.Count(m => logged[m][0]), 5, 35);
        }
        finally
        {
            lumberjack.SampleRate = rate;
        }
    }

    [Fact]
    public void A_training_run_reports_the_genres_its_encoder_ignores_and_ml_latest_small_has_none()
    {
        // Every genre of ml-latest-small is in the default feature config (GenreCoverageTests covers a catalog that is not).
        Assert.NotNull(fixture.Trained.UnknownGenres);
        Assert.Empty(fixture.Trained.UnknownGenres);
    }

    private static List<float[]> SyntheticProbe(int width) =>
        Enumerable.Range(0, 10).Select(i => Enumerable.Range(0, width).Select(j => (float)((i + j) % 5)).ToArray()).ToList();

    private static async Task PublishAsync(ModelRegistry registry, ModelManifest manifest)
    {
        await registry.RegisterAsync(manifest);
        await registry.SetStatusAsync(manifest.Version, ModelStatus.Approved, "test");
        await registry.PublishAsync(manifest.Version, (await registry.GetLiveAsync())?.Version, "test");
    }

    /// <summary>
    /// The served model with an ML.NET expression appended that turns every probability into NaN
    /// (0/0): it saves, loads and has the right schema; only scoring shows it is broken.
    /// </summary>
    private static TrainedModel NaNModel(TrainedModel served, ModelManifest manifest)
    {
        var ml = new MLContext(1);
        var scored = served.Transformer.Transform(ModelRows.Load(ml, [], served.FeatureCount));
        var nan = ml.Transforms.Expression(ModelRows.Probability, "p => (p - p) / (p - p)", ModelRows.Probability).Fit(scored);
        return new TrainedModel(manifest, served.Transformer.Append(nan), served.InputSchema);
    }

    private static TrainedModel SyntheticModel(string version, IReadOnlyList<string>? dependencies = null)
    {
        var random = new Random(3);
        List<TrainingExample> Examples(int n) => Enumerable.Range(0, n).Select(_ =>
        {
            var x = new[] { (float)random.NextDouble(), (float)random.NextDouble(), (float)random.NextDouble() };
            return new TrainingExample(x, x[0] + x[1] > 1);
        }).ToList();
        return ModelTrainer.Train(new TrainingRequest
        {
            FeatureNames = ["a", "b", "c"],
            FeatureConfigHash = "0000000000000000",
            Train = Examples(600),
            Validation = Examples(200),
            Trainer = TrainerKind.LogisticRegression,
            Version = version,
            TrainedFrom = DateTimeOffset.UnixEpoch,
            TrainedTo = DateTimeOffset.UnixEpoch.AddDays(1),
            Dependencies = dependencies ?? [],
        });
    }
}

[Collection(AzuriteCollection.Name)]
public sealed class FallbackOverHttpTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task Without_a_live_model_the_Substitute_answers_and_says_so()
    {
        // History reads may be slow on a cold Azurite (a threshold through configuration): this test is about the Substitute.
        await using var host = await LocalHostFixture.StartAsync(azurite, new DateTimeOffset(2010, 1, 1, 0, 0, 0, TimeSpan.Zero),
            new Dictionary<string, string?> { ["Health:MaxHistoryReadP99"] = "00:01:00" });
        var withCandidates = await host.Http.PostAsJsonAsync("api/rank", new { member = "1", candidates = new[] { "7", "8" } });
        var body = await withCandidates.Content.ReadFromJsonAsync<RankResponse>();
        Assert.True(body!.Fallback);
        Assert.Contains("no valid model", body.FallbackReason, StringComparison.Ordinal);
        Assert.Null(body.ModelVersion);
        Assert.False(body.Logged);

        var nothing = await host.Http.PostAsJsonAsync("api/rank", new { member = "1" });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, nothing.StatusCode);

        // Health tells the truth: no model, and every request of the last minute went to the Substitute.
        var response = await host.Http.GetAsync("api/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var health = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.False((bool)health["healthy"]!);
        var problems = health["problems"]!.AsArray().Select(p => (string)p!).ToList();
        Assert.Equal(2, problems.Count);
        Assert.StartsWith("no valid model is loaded", problems[0], StringComparison.Ordinal);
        Assert.Equal("substitute share 1 over the last minute exceeds 0.01", problems[1]);
        Assert.Equal("degraded: " + string.Join("; ", problems), (string?)health["status"]);
        Assert.Null(health["model"]);
        var serving = health["serving"]!;
        Assert.Equal((60, 2L, 2L, 1.0), ((int)serving["windowSeconds"]!, (long)serving["requests"]!, (long)serving["substitute"]!, (double)serving["substituteShare"]!));
        Assert.Equal(2, (long)serving["substituteReasons"]!["no valid model is live"]!);
        var featureLog = health["featureLog"]!;
        Assert.Equal(("local hub", 0L, 0L), ((string?)featureLog["lagMeasured"], (long)featureLog["lagEvents"]!, (long)featureLog["droppedLastMinute"]!));
    }

    [Fact]
    public async Task Rollback_over_HTTP_goes_back_along_the_publish_chain_and_refuses_what_it_cannot_do()
    {
        await using var host = await LocalHostFixture.StartAsync(azurite, new DateTimeOffset(2010, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var registry = host.App.Services.GetRequiredService<ModelRegistry>();
        foreach (var version in new[] { "roll-a", "roll-b" })
        {
            await registry.RegisterAsync(Serverless.Tests.Models.SharedModels.Get(TrainerKind.LogisticRegression).Manifest with { Version = version });
            await registry.SetStatusAsync(version, ModelStatus.Approved, "test");
        }

        await registry.PublishAsync("roll-a", null, "test");
        await registry.PublishAsync("roll-b", "roll-a", "test");

        Assert.Equal(HttpStatusCode.BadRequest, (await host.Http.PostAsJsonAsync("api/models/rollback", new { by = "ops" })).StatusCode);   // a typed name
        Assert.Equal(HttpStatusCode.BadRequest, (await host.Http.PostAsJsonAsync("api/models/rollback", new { expectedLive = "a/b" })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await host.Http.PostAsJsonAsync("api/models/rollback", new { expectedLive = "roll-a" })).StatusCode);

        var back = await host.Http.PostAsJsonAsync("api/models/rollback", new { reason = "click-through fell", expectedLive = "roll-b" });
        Assert.Equal(HttpStatusCode.OK, back.StatusCode);
        var change = (await back.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(("roll-b", "roll-a"), ((string?)change["from"], (string?)change["to"]));
        Assert.Contains($"rolled back by {LocalHostFixture.DeveloperName}: click-through fell", (string?)change["reason"], StringComparison.Ordinal);
        Assert.Equal(ModelStatus.Rejected, (await registry.GetAsync("roll-b"))!.Status);
        var recorded = (await registry.GetStatusHistoryAsync("roll-b"))[^1];
        Assert.Equal((ModelStatus.Rejected, LocalHostFixture.DeveloperName, LocalHostFixture.DeveloperObjectId), (recorded.Status, recorded.By, recorded.ByObjectId));

        var nothing = await host.Http.PostAsJsonAsync("api/models/rollback", new { reason = "again" });
        Assert.Equal(HttpStatusCode.Conflict, nothing.StatusCode);
        Assert.Contains("no previous version", await nothing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task When_the_history_read_misses_the_deadline_the_Substitute_answers_and_says_why()
    {
        // A host that tolerates any Substitute share and slow history reads (thresholds through
        // configuration; a cold Azurite's first reads can take a second): only the missing model counts against it.
        await using var host = await LocalHostFixture.StartAsync(azurite, new DateTimeOffset(2010, 1, 1, 0, 0, 0, TimeSpan.Zero),
            new Dictionary<string, string?>
            {
                ["Serving:Deadline"] = "00:00:00.0000001", ["Serving:HistoryCacheTtl"] = "00:00:00", ["Health:MaxSubstituteShare"] = "1", ["Health:MaxHistoryReadP99"] = "00:01:00",
            });
        // The deadline is a timer racing the read: on a loaded machine the read can win a round, so
        // ask until the deadline wins (every answer is the Substitute's either way: no model is live).
        RankResponse? body = null;
        var deadlines = 0;
        for (var attempt = 0; attempt < 20 && deadlines == 0; attempt++)
        {
            var response = await host.Http.PostAsJsonAsync("api/rank", new { member = "m" + attempt, candidates = new[] { "7", "8", "9" }, count = 2 });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            body = await response.Content.ReadFromJsonAsync<RankResponse>();
            Assert.True(body!.Fallback);
            Assert.Equal(2, body.Items.Count);
            deadlines += body.FallbackReason!.Contains("deadline exceeded", StringComparison.Ordinal) ? 1 : 0;
        }

        Assert.Equal(1, deadlines);

        var health = await RankingOverHttpTests.HealthAsync(host.Http);
        Assert.StartsWith("no valid model is loaded", (string)Assert.Single(health["problems"]!.AsArray())!, StringComparison.Ordinal);
        Assert.Equal(1, (double)health["thresholds"]!["maxSubstituteShare"]!);
        Assert.Equal(1, (long)health["serving"]!["substituteReasons"]![body!.FallbackReason!]!);
    }
}
