using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serverless.Events;
using Serverless.Facts;
using Serverless.LocalHost;
using Serverless.LocalHost.Hub;
using Serverless.LocalHost.Replay;
using Serverless.Models;
using Serverless.MovieLens;
using Serverless.TimeMachine;
using Serverless.Workflows;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Benchmarks;

/// <summary>
/// The Time Machine's data step (issue 12, "Scale"): MovieLens (or a synthetic copy made by
/// scripts/synthetic-copy.sh, given with --data) replayed through the facts trigger up to the
/// point where <c>--new-share</c> of the ratings are still to come; a snapshot cut there from the
/// ingest journal; the rest replayed; then, at the end, the snapshot that follows the first
/// (previous snapshot + the journal since), the snapshot cut from the journal alone and a full read
/// of the archive through its throttled batch interface (the baseline), checked equal fact for
/// fact; then the training pipeline (train from history -> Sentinel -> approval gate) timed to its gate.
/// </summary>
public static class SnapshotBenchmark
{
    public static async Task RunAsync(string connectionString, string movieLens, int? maxRatings, double newShare, bool pipeline)
    {
        var facts = MovieLensFacts.Load(movieLens, maxRatings);
        var ratings = facts.Where(f => f.Kind == "rating").ToList();
        var cutoff = ratings[(int)(ratings.Count * (1 - newShare))].EventTime!.Value;
        var before = facts.Where(f => f.EventTime < cutoff).ToList();
        var after = facts.Where(f => f.EventTime >= cutoff).ToList();
        var members = ratings.Select(r => r.Member).Distinct().Count();
        Console.WriteLine($"{movieLens}: {facts.Count} facts ({ratings.Count} ratings of {members} members); {after.Count} ({(double)after.Count / facts.Count:P1}) after the first snapshot");

        var clock = new ReplayClock(DateTimeOffset.FromUnixTimeSeconds(0));
        await using var app = LocalFunctionHost.Build(new LocalHostSettings
        {
            StorageConnectionString = connectionString,
            Port = 0,
            Time = clock,
            Configuration = new Dictionary<string, string?> { ["Archive:TablePrefix"] = "snap" + Environment.ProcessId, ["Logging:LogLevel:Default"] = "Warning" },
        });
        await app.StartAsync();
        var hub = app.Services.GetRequiredService<LocalEventHub>();
        var replay = new MovieLensReplay(hub, clock, app.Services.GetRequiredService<ILogger<MovieLensReplay>>());
        var cutter = app.Services.GetRequiredService<IncrementalSnapshots>();

        var ingest = Stopwatch.StartNew();
        await replay.PublishAsync(before, null, null, default);
        await hub.WaitForIdleAsync(Hubs.Facts, TimeSpan.FromMinutes(60), default);
        var ingestRate = before.Count / ingest.Elapsed.TotalSeconds;
        var w0 = clock.GetUtcNow();
        var first = await Timed(() => cutter.FromJournalAsync(w0, w0, default));
        await cutter.SaveAsync(first.Value, default);

        ingest.Restart();
        await replay.PublishAsync(after, null, null, default);
        await hub.WaitForIdleAsync(Hubs.Facts, TimeSpan.FromMinutes(60), default);
        var ingestRateAfter = after.Count / ingest.Elapsed.TotalSeconds;
        var w1 = clock.GetUtcNow();

        var incremental = await Timed(() => cutter.IncrementalAsync(first.Value.Manifest, w1, w1, default));
        var journal = await Timed(() => cutter.FromJournalAsync(w1, w1, default));
        var full = await Timed(() => cutter.FromArchiveAsync(w1, w1, null, default));
        string Text(SnapshotCut cut) => string.Join("\n", cut.Facts.Select(f => JsonSerializer.Serialize(f, FactJson.Options)));
        if (Text(full.Value) != Text(incremental.Value) || Text(full.Value) != Text(journal.Value))
        {
            throw new InvalidOperationException($"snapshots differ: full read {full.Value.Facts.Count} facts, incremental {incremental.Value.Facts.Count}, journal {journal.Value.Facts.Count}");
        }

        var n = full.Value.Facts.Count;
        Console.WriteLine($"snapshot at the end: {n} facts, equal by all three ways; ingest {ingestRate:F0} facts/s to the first snapshot, {ingestRateAfter:F0} facts/s after it");
        Console.WriteLine($"incremental: {incremental.Value.Manifest.JournalFilesRead} journal files, {incremental.Value.Manifest.JournalFactsRead} journal facts; journal alone: {journal.Value.Manifest.JournalFilesRead} files, {journal.Value.Manifest.JournalFactsRead} facts; full read: {full.Value.Manifest.ArchiveFactsRead} archive rows");

        Report.Header($"Time Machine data step, {n} facts of {members} members ({after.Count} new since the previous snapshot)");
        Report.Row("snapshot following the previous one (previous + journal since)", incremental.Seconds, "s", "full read, throttled batch interface", full.Seconds, "< 0.10");
        Report.Row("snapshot cut from the journal alone (bulk copy of the facts stream)", journal.Seconds, "s", "full read, throttled batch interface", full.Seconds, "-");
        Report.Row("full read, per 1,000 facts", full.Seconds * 1000 / n, "s", "journal alone, per 1,000 facts", journal.Seconds * 1000 / n, "-");

        if (pipeline)
        {
            // The training pipeline from history: its data step follows the first snapshot.
            var durable = app.Services.GetRequiredService<DurableTaskClient>();
            var watch = Stopwatch.StartNew();
            var id = await durable.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, new TrainPipelineRequest(TrainerKind.LightGbm, false, TimeSpan.FromDays(3), "bench"));
            var state = await TrainPipelineInstances.WaitForApprovalGateAsync(durable, id);
            var seconds = watch.Elapsed.TotalSeconds;
            Console.WriteLine($"pipeline {id}: {(state is { IsCompleted: false } ? "awaits approval" : $"ended {state?.RuntimeStatus}: {state?.SerializedOutput}")} after {seconds:F1} s");
            Report.Row("training pipeline from history to its approval gate", seconds, "s", "full read alone, throttled batch interface", full.Seconds, "<= 30 s");
        }

        await app.StopAsync();
    }

    private static async Task<(T Value, double Seconds)> Timed<T>(Func<Task<T>> action)
    {
        var watch = Stopwatch.StartNew();
        var value = await action();
        return (value, watch.Elapsed.TotalSeconds);
    }
}
