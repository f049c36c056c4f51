using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Events;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Hosting;
using Serverless.LocalHost.Azurite;
using Serverless.LocalHost.Hub;
using Serverless.LocalHost.Replay;
using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.MovieLens;
using Serverless.Precompute;
using Serverless.Ranking;
using Serverless.TimeMachine;
using Serverless.Training;
using Serverless.Workflows;
using Serverless.Workflows.Precompute;
using Serverless.Workflows.TimeMachine;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.LocalHost;

/// <summary>
/// The main job: the whole system on this machine. Starts Azurite unless storage is given, serves every function,
/// and with --replay replays MovieLens through the facts hub, trains, publishes, serves rank traffic and prints figures.
/// </summary>
internal static class MainJob
{
    /// <summary>How long a partition of the facts hub waits to fill a batch in the main job.</summary>
    public static readonly TimeSpan FactsMaxWait = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Settings the main job picks for one machine; the environment overrides them (they are the local
    /// host's <see cref="LocalHostSettings.Defaults"/>): a precompute fans out over one key partition
    /// per core. Eight partitions are for fanning out over instances in Azure; on one machine each
    /// partition activity costs its dispatch through the in-memory Durable Task backend, and all the
    /// Hulk's datasets of full MovieLens compute in under a second.
    /// </summary>
    public static Dictionary<string, string?> LocalDefaults() =>
        new(StringComparer.Ordinal) { ["Precompute:Partitions"] = Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    /// <summary>Runs the main job with its options (see <see cref="MainJobCommand"/>); returns the exit code.</summary>
    public static async Task<int> RunAsync(MainJobOptions options, CancellationToken cancellationToken)
    {
        // No storage given: start Azurite from the repository's node_modules for the life of this process.
        await using var azurite = options.Storage is null ? await AzuriteProcess.StartAsync(RepositoryRoot.Path, cancellationToken: cancellationToken) : null;
        var clock = new ReplayClock(options.Replay is null ? DateTimeOffset.UtcNow : DateTimeOffset.FromUnixTimeSeconds(0));
        var app = LocalFunctionHost.Build(new LocalHostSettings
        {
            StorageConnectionString = options.Storage ?? azurite!.ConnectionString,
            Port = options.Port,
            Time = clock,
            // The facts hub fills its batches for longer: a rank request of the replay's traffic makes only its
            // member's partition deliver at once, so the others ingest a few large batches instead of many small ones.
            Hub = new LocalHubOptions { MaxWaitOfHub = new Dictionary<string, TimeSpan>(StringComparer.Ordinal) { [Hubs.Facts] = FactsMaxWait } },
            Defaults = LocalDefaults(),
        }, []);
        await app.StartAsync(cancellationToken);
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Serverless.LocalHost");
        log.LogInformation("Local host serving {Count} functions on {Url}", app.Services.GetRequiredService<Serverless.LocalHost.Functions.HostedFunctions>().Functions.Count, LocalFunctionHost.BaseAddress(app));

        if (options.Replay is { } replayFolder)
        {
            // Relative folders are taken from the working directory, else from the repository root.
            var folder = Directory.Exists(replayFolder) ? replayFolder : Path.Combine(RepositoryRoot.Path, replayFolder);
            var hub = app.Services.GetRequiredService<LocalEventHub>();
            var replay = new MovieLensReplay(hub, clock, app.Services.GetRequiredService<ILogger<MovieLensReplay>>());
            var facts = MovieLensFacts.Load(folder, options.MaxRatings);
            var started = DateTimeOffset.UtcNow;
            var stopping = app.Lifetime.ApplicationStopping;

            // Progress lines while a replay runs: facts the archive has ingested of those replayed.
            long Ingested() => hub.Stats().Where(s => s.Hub == Hubs.Facts).Select(s => s.Checkpointed).DefaultIfEmpty(0).Min();
            async Task ReplayAsync(string phase, IReadOnlyList<FactEnvelope> part, IReplayHook? hook)
            {
                var before = Ingested();
                await using var progress = ProgressLog.Start(log, phase, "facts", part.Count, () => Ingested() - before, TimeSpan.FromSeconds(5), TimeProvider.System);
                await replay.PublishAsync(part, options.Speed, hook, stopping);
                await hub.WaitForIdleAsync(Hubs.Facts, TimeSpan.FromMinutes(30), stopping);
            }

            if (options.TrainAt is not { } share)
            {
                await ReplayAsync("Replay", facts, null);
                await hub.WaitForIdleAsync(TimeSpan.FromMinutes(30), stopping);
            }
            else
            {
                // History up to the training cutoff, then a model trained on it serves the rest of history.
                var ratings = facts.Where(f => f.Kind == "rating").ToList();
                var cutoff = ratings[(int)(ratings.Count * share)].EventTime!.Value;
                var history = facts.Where(f => f.EventTime < cutoff).ToList();
                await ReplayAsync("Replay to the training cutoff", history, null);
                await hub.WaitForIdleAsync(TimeSpan.FromMinutes(30), stopping);
                log.LogInformation("Archived history up to {Cutoff:O} in {Seconds:F1} s; training", cutoff, (DateTimeOffset.UtcNow - started).TotalSeconds);

                var phase = DateTimeOffset.UtcNow;
                var trained = await app.Services.GetRequiredService<TrainingJob>().RunAsync(new TrainingJobRequest(options.Trainer, null, Publish: true), history.Count, stopping);
                log.LogInformation("Trained {Version} (AUC {Auc:F3}) in {Seconds:F1} s; Sentinel {Verdict}", trained.Manifest.Version,
                    trained.Manifest.Metrics.GetValueOrDefault(ModelMetricNames.Auc), (DateTimeOffset.UtcNow - phase).TotalSeconds, trained.Sentinel.Passed ? "passed" : "failed");
                await app.Services.GetRequiredService<LiveModel>().RefreshAsync(stopping);
                await PrecomputeAsync(trained.Snapshot);

                // The context snapshot (as of now) runs beside the rest of the replay: it reads as of its T, so what
                // the replay ingests meanwhile does not change it; its summary is printed when it is done.
                var contextSnapshot = ContextSnapshotAsync();

                phase = DateTimeOffset.UtcNow;
                var ranking = app.Services.GetRequiredService<RankService>();
                var afterCutoff = facts.Where(f => f.Kind == "rating" && f.EventTime >= cutoff)
                    .Select(f => new Fact(f.Id!, FactKind.Rating, f.Member, f.Title, f.Value, f.EventTime!.Value, f.EventTime!.Value)).ToList();
                var traffic = new ReplayTraffic(facts, clock, ranking.RankAsync, (member, ct) => hub.WaitForPartitionAsync(Hubs.Facts, member, TimeSpan.FromMinutes(1), ct), options.TrafficRate);
                var rest = facts.Where(f => f.EventTime >= cutoff).ToList();
                await ReplayAsync("Replay with rank traffic", rest, traffic);
                log.LogInformation("Replayed the remaining {Count} facts with {Requests} rank requests in {Seconds:F1} s (up to {InFlight} requests at once; per request {Waiting:F1} ms waiting for the archive to ingest what came before it, {Ranking:F1} ms ranking)",
                    rest.Count, traffic.Requests, (DateTimeOffset.UtcNow - phase).TotalSeconds, traffic.MaxInFlight,
                    traffic.Waiting.TotalMilliseconds / Math.Max(1, traffic.Requests), traffic.Ranking.TotalMilliseconds / Math.Max(1, traffic.Requests));

                phase = DateTimeOffset.UtcNow;
                await app.Services.GetRequiredService<FeatureLogBuffer>().DrainAsync(TimeSpan.FromMinutes(5), app.Lifetime.ApplicationStopping);
                await hub.WaitForIdleAsync(TimeSpan.FromMinutes(30), app.Lifetime.ApplicationStopping);
                var ingested = DateTimeOffset.UtcNow;
                // The skew meter on every logged request (serving's vectors recomputed offline by the Time Machine) runs
                // beside the label join and the challenger: it reads the landed feature log and the archive, and writes nothing they read.
                var skewMeter = SkewMeterAsync();
                var labels = await app.Services.GetRequiredService<LabelJoiner>().RunAsync(app.Lifetime.ApplicationStopping);
                var joined = DateTimeOffset.UtcNow;
                // The hourly label timer ran on the replay clock during the replay too: count what the feature log holds now.
                var labelled = await app.Services.GetRequiredService<FeatureLogStore>().LabelledAsync(
                    app.Services.GetRequiredService<FeatureEncoder>().ConfigHash, app.Lifetime.ApplicationStopping);
                var liked = labelled.Count(i => i.Label == true);
                log.LogInformation("Replay traffic: {Requests} rank requests ({Fallbacks} by the fallback), {Logged} logged; {Labelled} impressions labelled ({Liked} liked), {Open} still open; labels in {Seconds:F1} s ({Ingest:F1} s until the feature log was ingested, {Join:F1} s joining labels, {Changed} of them set by this join and {Conflicts} left to a concurrent one)",
                    traffic.Requests, traffic.Fallbacks, traffic.Logged, labelled.Count, liked, labels.StillOpen, (DateTimeOffset.UtcNow - phase).TotalSeconds,
                    (ingested - phase).TotalSeconds, (joined - ingested).TotalSeconds, labels.Changed, labels.Conflicts);
                // The offline replay: what the live model and the Substitute would answer at the cutoff, against what members rated after it.
                phase = DateTimeOffset.UtcNow;
                using (var lease = app.Services.GetRequiredService<LiveModel>().Acquire())
                {
                    if (lease.Bundle is { } bundle)
                    {
                        var known = await app.Services.GetRequiredService<FactSnapshotStore>().LoadAsync(trained.Snapshot, app.Lifetime.ApplicationStopping);
                        var replayed = OfflineReplay.Run(known, afterCutoff, bundle.Data.Watermark, app.Services.GetRequiredService<FeatureEncoder>(), bundle.Data,
                            [new ReplayRanker($"live model {bundle.Manifest.Version}", bundle.Scorer), new ReplayRanker("the Substitute (popularity)", null)]);
                        log.LogInformation("Offline replay at the training cutoff {Split:O}: {Members} members who liked something after it ({Liked} liked titles, {InPool} of them in their candidate pool), in {Seconds:F1} s\n{Table}",
                            replayed.SplitAt, replayed.Members, replayed.LikedAfter, replayed.LikedInPool, (DateTimeOffset.UtcNow - phase).TotalSeconds, replayed.Table());
                    }
                }

                if (liked > 0 && labelled.Count - liked > 0)
                {
                    // The Lumberjack's payoff, through the training pipeline: a challenger trained on the features
                    // exactly as served, checked by the Sentinel, then left at the approval gate for a person.
                    phase = DateTimeOffset.UtcNow;
                    var durable = app.Services.GetRequiredService<DurableTaskClient>();
                    var pipeline = await durable.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline,
                        new TrainPipelineRequest(options.Trainer, FromLoggedFeatures: true, TimeSpan.FromDays(3), "main job"), app.Lifetime.ApplicationStopping);
                    var waiting = await TrainPipelineInstances.WaitForApprovalGateAsync(durable, pipeline, app.Lifetime.ApplicationStopping);
                    if (waiting is { IsCompleted: false } && TrainPipelineInstances.Progress(waiting)?.Candidate is { } candidate)
                    {
                        log.LogInformation(
                            "Challenger {Version} trained on logged features in {Seconds:F1} s: AUC {Auc:F3} on the latest impressions; pipeline {Pipeline} awaits approval: POST {Url}api/pipelines/train/{Pipeline}/approval {{\"approve\": true}} (as the development identity)",
                            candidate.Version, (DateTimeOffset.UtcNow - phase).TotalSeconds, candidate.Metrics.GetValueOrDefault(ModelMetricNames.Auc), pipeline, LocalFunctionHost.BaseAddress(app), pipeline);
                    }
                    else
                    {
                        log.LogWarning("Challenger pipeline {Pipeline} ended without waiting for approval: {Status} {Result}", pipeline, waiting?.RuntimeStatus, waiting?.SerializedOutput);
                    }
                }

                await skewMeter;
                await contextSnapshot;
            }

            async Task SkewMeterAsync()
            {
                var started = DateTimeOffset.UtcNow;
                var skew = await app.Services.GetRequiredService<SkewMeter>().MeasureAsync(new SkewMeterRequest(null, SkewMeterRequest.MaxAllowedRequests), stopping);
                log.LogInformation("{Summary} ({Seconds:F1} s)", skew.Summary(), (DateTimeOffset.UtcNow - started).TotalSeconds);
            }

            // The Time Machine's snapshot of chosen contexts (a stratified sample of members) as of now, as the daily timer takes it.
            async Task ContextSnapshotAsync()
            {
                var started = DateTimeOffset.UtcNow;
                var durable = app.Services.GetRequiredService<DurableTaskClient>();
                var snapshotter = app.Services.GetRequiredService<ContextSnapshotter>();
                var request = await ContextSnapshotInstances.StartAsync(durable, snapshotter,
                    app.Services.GetRequiredService<IOptions<TimeMachineOptions>>().Value,
                    app.Services.GetRequiredService<FeatureEncoder>().ConfigHash, clock.GetUtcNow(), null, null, null, null, null, "main job", stopping);
                var done = await durable.WaitForInstanceCompletionAsync(request.Id, getInputsAndOutputs: true, stopping);
                var manifest = await snapshotter.GetManifestAsync(request.Id, stopping);
                log.LogInformation("Context snapshot {Id}: {Status} in {Seconds:F1} s; {Summary}", request.Id, done.RuntimeStatus, (DateTimeOffset.UtcNow - started).TotalSeconds,
                    manifest?.Summary() ?? done.ReadOutputAs<ContextSnapshotResult>()?.Reason ?? done.FailureDetails?.ErrorMessage);
            }

            // The Hulk: the three derived datasets as of the training watermark (from its snapshot, no archive re-read), published as versions.
            async Task PrecomputeAsync(string snapshot)
            {
                var phase = DateTimeOffset.UtcNow;
                var durable = app.Services.GetRequiredService<DurableTaskClient>();
                var registry = app.Services.GetRequiredService<DerivedVersionRegistry>();
                var settings = app.Services.GetRequiredService<IOptions<PrecomputeOptions>>().Value;
                var runs = new List<string>();
                foreach (var dataset in DerivedDatasets.All)
                {
                    runs.Add((await PrecomputeInstances.StartAsync(durable, registry, settings, dataset, clock.GetUtcNow(), null, snapshot, null, "main job", null, stopping)).Id);
                }

                foreach (var id in runs)
                {
                    var done = await durable.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, stopping);
                    var result = done.RuntimeStatus == OrchestrationRuntimeStatus.Completed ? done.ReadOutputAs<PrecomputeResult>() : null;
                    log.LogInformation("Precompute {Id}: {Status} {Dataset} {Version} as of {AsOf:O}: {Keys} keys, {Items} items {Failure}", id, done.RuntimeStatus,
                        result?.Dataset, result?.Version, result?.AsOf, result?.Keys, result?.Items, done.FailureDetails?.ErrorMessage ?? result?.Reason);
                }

                await app.Services.GetRequiredService<ServingTitleStats>().RefreshAsync(stopping);
                var lookups = app.Services.GetRequiredService<PrecomputedLookups>();
                await lookups.RefreshAsync(stopping);
                string Show(LookupResponse r) => $"{r.Source} (version {r.Version ?? "none"}, T {r.AsOf:O}): {string.Join(", ", r.Items.Take(5).Select(i => i.Title))}";
                log.LogInformation("Precomputed in {Seconds:F1} s. GET /api/titles/318/similar -> {Similar}; GET /api/titles/new-title/similar -> {NewTitle}; GET /api/members/414/recommendations -> {Member}; GET /api/members/new-member/recommendations -> {NewMember}",
                    (DateTimeOffset.UtcNow - phase).TotalSeconds, Show(await lookups.SimilarAsync("318", 5, stopping)), Show(await lookups.SimilarAsync("new-title", 5, stopping)),
                    Show(await lookups.RecommendationsAsync("414", 5, stopping)), Show(await lookups.RecommendationsAsync("new-member", 5, stopping)));
            }

            var seconds = (DateTimeOffset.UtcNow - started).TotalSeconds;
            log.LogInformation("Replayed and archived {Count} facts in {Seconds:F1} s; replay clock now {Now:O}; serving on {Url}api/", facts.Count, seconds, clock.GetUtcNow(), LocalFunctionHost.BaseAddress(app));
            if (options.ExitAfterReplay)
            {
                await app.StopAsync(CancellationToken.None);
                return 0;
            }
        }

        log.LogInformation("Operator dashboard: {Url}", new Uri(LocalFunctionHost.BaseAddress(app), "api/dashboard/"));
        await app.WaitForShutdownAsync(cancellationToken);
        return 0;
    }
}
