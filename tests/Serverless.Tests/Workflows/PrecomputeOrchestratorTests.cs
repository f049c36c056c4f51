using Microsoft.Extensions.Configuration;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Serverless.Precompute;
using Serverless.Tests.Fixtures;
using Serverless.Tests.Precompute;
using Serverless.Workflows;
using Serverless.Workflows.Precompute;

namespace Serverless.Tests.Workflows;

/// <summary>The Hulk's orchestration on the in-process Durable Task host (real replay, retries) with the real activities on Azurite.</summary>
[Collection(AzuriteCollection.Name)]
public sealed partial class PrecomputeOrchestratorTests(AzuriteFixture azurite)
{
    /// <summary>The real partition activity, failing its first <paramref name="failures"/> calls of partition 1.</summary>
    private sealed class FailingPartition(PrecomputeWorker worker, int failures) : TaskActivity<PartitionWork, PartitionCounts>
    {
        private int calls;

        public int Calls => calls;

        public override Task<PartitionCounts> RunAsync(TaskActivityContext context, PartitionWork input) =>
            input.Partition == 1 && Interlocked.Increment(ref calls) <= failures
                ? throw new IOException($"partition 1 storage fault #{calls}")
                : worker.ComputeAsync(input);
    }

    private static async Task<OrchestrationMetadata> RunAsync(DurableTaskClient client, PrecomputeRequest request)
    {
        var id = await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.Precompute, request);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        return await client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
    }

    [Fact]
    public async Task Similar_titles_for_every_title_are_published_as_a_version_equal_to_the_brute_force_answer()
    {
        using var w = new PrecomputeWorld(azurite);
        await using var host = await w.HostAsync();
        var asOf = w.At(300);
        var snapshot = await w.SnapshotAsync(asOf);

        var done = await RunAsync(host.Client, PrecomputeWorld.Request(DerivedDatasets.SimilarTitles, asOf, snapshot));
        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
        var result = done.ReadOutputAs<PrecomputeResult>()!;
        Assert.Equal(PrecomputeOutcome.Published, result.Outcome);

        var current = (await w.Registry.CurrentAsync(DerivedDatasets.SimilarTitles))!;
        Assert.Equal(result.Version, current.Version);
        Assert.Equal(asOf, current.AsOf);
        Assert.Equal(4, current.Partitions);
        Assert.Contains(PrecomputeInputs.SnapshotPrefix + snapshot, current.Inputs);
        Assert.Equal(result.Keys, current.Counts["keys"]);
        Assert.Null(await w.Registry.LockHolderAsync(DerivedDatasets.SimilarTitles));

        var entries = (await w.Store.ReadAllAsync<PrecomputedEntry>(current)).OrderBy(e => e.Key, StringComparer.Ordinal).ToList();
        var index = LikeIndex.Build(KnownRatings.Current(w.Facts, asOf), w.Encoder.Config.LikeThreshold);
        var oracle = SimilarTitles.BruteForce(index, 5).OrderBy(e => e.Key, StringComparer.Ordinal).ToList();
        Assert.Equal(oracle.Count, entries.Count);
        Assert.True(entries.Sum(e => e.Items.Count) > 0);
        for (var i = 0; i < oracle.Count; i++)
        {
            Assert.Equal(oracle[i].Key, entries[i].Key);
            Assert.Equal(oracle[i].Items.Select(x => x.Title), entries[i].Items.Select(x => x.Title));
            Assert.Equal(oracle[i].Items.Select(x => x.Score), entries[i].Items.Select(x => x.Score));
        }

        // A title's most similar titles are of its own genre (members like their genre).
        var drama = entries.Single(e => e.Key == "t0");
        Assert.All(drama.Items.Take(3), x => Assert.Equal(0, int.Parse(x.Title[1..], System.Globalization.CultureInfo.InvariantCulture) % PrecomputeWorld.Genres.Length));

        var genres = await w.Store.ReadFileAsync<Dictionary<string, List<ScoredTitle>>>(DerivedDatasets.SimilarTitles, current.Version, PrecomputeWorker.GenrePopularityFile);
        Assert.Equal(PrecomputeWorld.Genres.Append(PrecomputeWorker.AllGenres).Order(), genres!.Keys.Order());
    }

    [Fact]
    public void A_progress_line_says_partitions_done_of_all_the_rate_and_the_time_left_at_that_rate()
    {
        var logs = new LogRecorder();
        var log = logs.CreateLogger(nameof(PrecomputeOrchestrator));

        PrecomputeOrchestrator.LogProgress(log, "p1", DerivedDatasets.TitleStats, 2, 8, 30, TimeSpan.FromSeconds(4));
        PrecomputeOrchestrator.LogProgress(log, "p1", DerivedDatasets.TitleStats, 8, 8, 120, TimeSpan.FromSeconds(10));
        // No time has passed on the orchestration's clock yet (partitions finished in the episode that started them): no rate to go by.
        PrecomputeOrchestrator.LogProgress(log, "p2", DerivedDatasets.SimilarTitles, 1, 4, 7, TimeSpan.Zero);

        Assert.Equal(new[]
        {
            "Precompute p1 of title-stats: 2 of 8 partitions computed (0.50/s), about 12 s left (30 keys so far)",
            "Precompute p1 of title-stats: 8 of 8 partitions computed (0.80/s), about 0 s left (120 keys so far)",
            "Precompute p2 of similar-titles: 1 of 4 partitions computed (0 s so far), time left unknown (7 keys so far)",
        }, logs.Of(nameof(PrecomputeOrchestrator)));
    }

    [Fact]
    public async Task A_precompute_logs_one_progress_line_per_quarter_of_its_partitions_with_rate_and_time_left_and_none_on_replay()
    {
        using var w = new PrecomputeWorld(azurite);
        var logs = new LogRecorder();
        await using var host = await w.HostAsync(logs: logs);
        var asOf = w.At(300);

        // One partition at a time: the orchestration replays its history after each, so a line logged on replay would repeat.
        var done = await RunAsync(host.Client, PrecomputeWorld.Request(DerivedDatasets.TitleStats, asOf, await w.SnapshotAsync(asOf), partitions: 8, maxParallel: 1));

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
        var result = done.ReadOutputAs<PrecomputeResult>()!;
        var lines = logs.Of(nameof(PrecomputeOrchestrator)).Where(l => l.Contains("partitions computed", StringComparison.Ordinal)).ToList();
        Assert.Equal(4, lines.Count);
        var matches = lines.Select(l => ProgressLine().Match(l)).ToList();
        Assert.All(matches.Zip(lines), m => Assert.True(m.First.Success, $"not a progress line: {m.Second}"));
        Assert.All(matches, m => Assert.Equal((done.InstanceId, DerivedDatasets.TitleStats, "8"), (m.Groups["id"].Value, m.Groups["dataset"].Value, m.Groups["of"].Value)));
        Assert.Equal(new[] { 2, 4, 6, 8 }, matches.Select(m => int.Parse(m.Groups["done"].Value, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(result.Keys, long.Parse(matches[^1].Groups["keys"].Value, System.Globalization.CultureInfo.InvariantCulture));
        // The last line has nothing left to do, whatever the rate.
        Assert.True(matches[^1].Groups["left"].Value is "0" || !matches[^1].Groups["rate"].Success, lines[^1]);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^Precompute (?<id>\S+) of (?<dataset>\S+): (?<done>\d+) of (?<of>\d+) partitions computed \((?:(?<rate>\d+\.\d\d)/s\), about (?<left>\d+) s left|\d+ s so far\), time left unknown) \((?<keys>\d+) keys so far\)$")]
    private static partial System.Text.RegularExpressions.Regex ProgressLine();

    [Fact]
    public async Task A_partition_failing_once_is_retried_and_the_version_publishes_over_the_previous_one()
    {
        using var w = new PrecomputeWorld(azurite);
        var previous = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(100));
        var flaky = new FailingPartition(w.Worker, failures: 1);
        await using var host = await w.HostAsync(flaky);
        var asOf = w.At(200);

        var done = await RunAsync(host.Client, PrecomputeWorld.Request(DerivedDatasets.TitleStats, asOf, await w.SnapshotAsync(asOf)));

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
        var result = done.ReadOutputAs<PrecomputeResult>()!;
        Assert.Equal(PrecomputeOutcome.Published, result.Outcome);
        Assert.Equal(previous.Version, result.Replaced);
        Assert.Equal(2, flaky.Calls);
        Assert.Equal(result.Version, (await w.Registry.CurrentAsync(DerivedDatasets.TitleStats))!.Version);
        Assert.Equal(Serverless.Features.TitleStatsSnapshot.Build(w.Facts, asOf, w.Encoder.Config).Titles.Count, result.Keys);
    }

    [Fact]
    public async Task A_partition_failing_for_good_ends_the_precompute_failed_and_the_previous_version_keeps_serving()
    {
        using var w = new PrecomputeWorld(azurite);
        var previous = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(100));
        var broken = new FailingPartition(w.Worker, failures: int.MaxValue);
        await using var host = await w.HostAsync(broken);
        var asOf = w.At(200);

        var done = await RunAsync(host.Client, PrecomputeWorld.Request(DerivedDatasets.TitleStats, asOf, await w.SnapshotAsync(asOf)));

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.RuntimeStatus);
        Assert.Equal(3, broken.Calls);
        Assert.Equal(previous.Version, (await w.Registry.CurrentAsync(DerivedDatasets.TitleStats))!.Version);
        var failed = (await w.Registry.ListAsync(DerivedDatasets.TitleStats)).Single(v => v.Version != previous.Version);
        Assert.Equal(DerivedVersionStatus.Failed, failed.Status);
        Assert.Contains("partition 1 storage fault", failed.Reason, StringComparison.Ordinal);
        Assert.Null(await w.Registry.LockHolderAsync(DerivedDatasets.TitleStats));
        // Serving still reads the previous version.
        Assert.Equal(previous.Version, (await w.Versions.CurrentAsync())!.Version.Version);
    }

    [Fact]
    public async Task Two_concurrent_precomputes_of_one_dataset_publish_once_and_the_other_is_refused()
    {
        using var w = new PrecomputeWorld(azurite);
        await using var host = await w.HostAsync();
        var asOf = w.At(300);
        var snapshot = await w.SnapshotAsync(asOf);
        var request = PrecomputeWorld.Request(DerivedDatasets.SimilarTitles, asOf, snapshot, partitions: 6, maxParallel: 1);

        var both = await Task.WhenAll(RunAsync(host.Client, request), RunAsync(host.Client, request));

        var results = both.Select(d => d.ReadOutputAs<PrecomputeResult>()!).ToList();
        Assert.All(both, d => Assert.Equal(OrchestrationRuntimeStatus.Completed, d.RuntimeStatus));
        Assert.Single(results, r => r.Outcome == PrecomputeOutcome.Published);
        var refused = Assert.Single(results, r => r.Outcome == PrecomputeOutcome.Refused);
        Assert.Contains("already running", refused.Reason, StringComparison.Ordinal);
        var versions = await w.Registry.ListAsync(DerivedDatasets.SimilarTitles);
        Assert.Equal(results.Single(r => r.Outcome == PrecomputeOutcome.Published).Version, Assert.Single(versions).Version);
        Assert.Equal(DerivedVersionStatus.Published, versions[0].Status);
    }

    [Fact]
    public async Task A_reader_during_the_switch_sees_the_old_or_the_new_version_complete_never_a_mix()
    {
        using var w = new PrecomputeWorld(azurite);
        var old = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(100));
        await using var host = await w.HostAsync();
        var asOf = w.At(380);
        var snapshot = await w.SnapshotAsync(asOf);
        var seen = new List<string>();
        async Task ReadAsync()
        {
            var current = (await w.Versions.CurrentAsync())!;
            seen.Add(current.Version.Version);
            // Complete: every title the version counted, with statistics as of its own T.
            Assert.Equal(current.Version.Counts["keys"], current.Stats.Titles.Count);
            Assert.Equal(Serverless.Features.TitleStatsSnapshot.Build(w.Facts, current.Version.AsOf, w.Encoder.Config).TotalRatings, current.Stats.TotalRatings);
        }

        await ReadAsync();
        var run = RunAsync(host.Client, PrecomputeWorld.Request(DerivedDatasets.TitleStats, asOf, snapshot));
        while (!run.IsCompleted)
        {
            await ReadAsync();
        }

        await ReadAsync();
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await run).RuntimeStatus);
        // Old, old, ..., new, new: one switch, never back.
        Assert.Equal(seen.Count - seen.IndexOf(seen[^1]), seen.Count(v => v == seen[^1]));
        Assert.Equal(old.Version, seen[0]);
        Assert.Equal((await run).ReadOutputAs<PrecomputeResult>()!.Version, seen[^1]);
    }

    [Fact]
    public async Task The_precompute_timer_cleans_up_then_starts_one_precompute_per_scheduled_dataset_and_a_tick_while_one_runs_is_refused()
    {
        using var w = new PrecomputeWorld(azurite);
        await using var host = await w.HostAsync();
        var old = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(100));
        w.Clock.Advance(TimeSpan.FromDays(1));
        await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(101));
        w.Clock.Advance(TimeSpan.FromDays(10) + TimeSpan.FromSeconds(Random.Shared.Next(1, 1_000_000)));
        var now = w.Clock.GetUtcNow();
        await w.SnapshotAsync(now); // the facts as of the tick (else the archive is read into one)
        var options = new PrecomputeOptions { ScheduledDatasets = " title-stats ", Partitions = 2, MaxParallel = 2 };
        var cleanup = new DerivedDataCleanup(w.Registry, w.Store, w.Models, w.ModelStore, Microsoft.Extensions.Options.Options.Create(options), w.Clock,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<DerivedDataCleanup>.Instance);

        var tick = await ScheduledPrecompute.RunAsync(host.Client, w.Registry, cleanup, options, now);

        Assert.Equal([old.Dependency], tick.Cleanup.Removed);
        Assert.Empty(tick.Refused);
        var id = Assert.Single(tick.Started).Value;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var done = await host.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
        var result = done.ReadOutputAs<PrecomputeResult>()!;
        Assert.Equal(PrecomputeOutcome.Published, result.Outcome);
        var current = (await w.Registry.CurrentAsync(DerivedDatasets.TitleStats))!;
        Assert.Equal(result.Version, current.Version);
        Assert.Equal(now, current.AsOf);
        Assert.Contains("requestedBy:" + ScheduledPrecompute.RequestedBy, current.Inputs);

        // The next tick comes while a precompute of the dataset holds its lock: refused, said so, nothing started.
        var running = DerivedVersionIds.Create(now, Guid.NewGuid());
        await w.Registry.BeginAsync(new DerivedVersion(DerivedDatasets.TitleStats, running, DerivedVersionStatus.Building, now, [], PrecomputeCode.Hash(w.Encoder.ConfigHash),
            1, new Dictionary<string, long>(), default, null, null, "another-run", null), TimeSpan.FromHours(1));
        var second = await ScheduledPrecompute.RunAsync(host.Client, w.Registry, cleanup, options, now);
        Assert.Empty(second.Started);
        Assert.Contains("already running (another-run)", second.Refused[DerivedDatasets.TitleStats], StringComparison.Ordinal);
        Assert.Equal(result.Version, (await w.Registry.CurrentAsync(DerivedDatasets.TitleStats))!.Version);
    }

    [Fact]
    public async Task A_member_top_n_precompute_refuses_a_live_model_whose_golden_probes_this_encoder_does_not_reproduce_naming_the_moved_features()
    {
        // The member top-N is served as the Rank API's answer: its loader runs the serving loader's golden-probe check.
        using var w = new PrecomputeWorld(azurite);
        await w.ModelStore.EnsureCreatedAsync();
        await using var host = await w.HostAsync();
        var asOf = w.At(300);
        var snapshot = await w.SnapshotAsync(asOf);
        var facts = await w.Snapshots.LoadAsync(snapshot, CancellationToken.None);
        using var model = Serverless.Tests.Sentinel.GoldenProbeWorld.TrainModel(w.Encoder, "topn-clean", snapshot);
        Serverless.Sentinel.GoldenProbeSet probes;
        using (var scorer = new Serverless.Models.ModelScorer(model))
        {
            probes = Serverless.Sentinel.GoldenProbes.Build(facts, Serverless.Ranking.ServingData.FromSnapshot(facts, snapshot, w.Encoder.Config), w.Encoder, scorer);
        }

        var moved = w.Encoder.Names.ToList().IndexOf(Serverless.Features.FeatureNames.TitlePopularity);
        var clean = model.Manifest with { GoldenProbes = probes };
        var changed = clean with
        {
            Version = "topn-moved",
            GoldenProbes = probes with { Probes = probes.Probes.Select(p => p with { Features = p.Features.Select((v, f) => f == moved ? v + 0.25f : v).ToArray() }).ToList() },
        };
        foreach (var manifest in new[] { clean, changed })
        {
            await w.ModelStore.SaveAsync(new Serverless.Models.TrainedModel(manifest, model.Transformer, model.InputSchema));
            await w.Models.RegisterAsync(manifest);
            await w.Models.SetStatusAsync(manifest.Version, Serverless.Models.ModelStatus.Approved, "test");
        }

        await w.Models.PublishAsync(changed.Version, null, "test");
        var refused = await RunAsync(host.Client, PrecomputeWorld.Request(DerivedDatasets.MemberTopN, asOf, snapshot, partitions: 2));

        Assert.Equal(OrchestrationRuntimeStatus.Failed, refused.RuntimeStatus);
        var failed = Assert.Single(await w.Registry.ListAsync(DerivedDatasets.MemberTopN));
        Assert.Equal(DerivedVersionStatus.Failed, failed.Status);
        Assert.Contains($"model {changed.Version} refused by the {Serverless.Sentinel.SentinelChecks.FeatureCodeSync} check", failed.Reason, StringComparison.Ordinal);
        Assert.Contains($"features moved: {Serverless.Features.FeatureNames.TitlePopularity};", failed.Reason, StringComparison.Ordinal);
        Assert.Null(await w.Registry.CurrentAsync(DerivedDatasets.MemberTopN));

        // The same model with the probes training made passes, and its top-N is published.
        await w.Models.PublishAsync(clean.Version, changed.Version, "test");
        var done = await RunAsync(host.Client, PrecomputeWorld.Request(DerivedDatasets.MemberTopN, asOf, snapshot, partitions: 2));
        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
        Assert.Equal(PrecomputeOutcome.Published, done.ReadOutputAs<PrecomputeResult>()!.Outcome);
        Assert.Contains(PrecomputeInputs.ModelPrefix + clean.Version, (await w.Registry.CurrentAsync(DerivedDatasets.MemberTopN))!.Inputs);
    }

    [Fact]
    public void The_scheduled_datasets_setting_is_validated_and_parsed()
    {
        static bool Valid(string value)
        {
            var options = new PrecomputeOptions { ScheduledDatasets = value };
            return System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), null, validateAllProperties: true);
        }

        Assert.True(Valid("title-stats,similar-titles,member-top-n"));
        Assert.True(Valid(""));
        Assert.False(Valid("title-stats,everything"));
        Assert.Equal(["title-stats", "member-top-n"], new PrecomputeOptions { ScheduledDatasets = "title-stats, member-top-n,title-stats" }.ScheduledDatasetList());
        Assert.Equal("0 0 3 * * *", Serverless.LocalHost.Timers.TimerFunctionScheduler.ResolveSchedule("%Precompute__Schedule%",
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Precompute:Schedule"] = "0 0 3 * * *" }).Build()));
        Assert.Null(Serverless.LocalHost.Timers.TimerFunctionScheduler.ResolveSchedule("%Missing__Setting%", new ConfigurationBuilder().Build()));
        Assert.Equal("*/10 * * * * *", Serverless.LocalHost.Timers.TimerFunctionScheduler.ResolveSchedule("*/10 * * * * *", null));
    }
}
