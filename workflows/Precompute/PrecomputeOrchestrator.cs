using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Serverless.Hosting;
using Serverless.Precompute;

namespace Serverless.Workflows.Precompute;

/// <summary>
/// The Hulk: computes a derived dataset for every key as of T, partition by partition (fan-out with at
/// most <see cref="PrecomputeRequest.MaxParallel"/> activities at once, each retried with backoff),
/// then publishes the version by an ETag-guarded pointer switch only when every partition is written
/// (fan-in). Data travels as blob references: the orchestration history holds names and counts only.
/// One precompute of a dataset at a time: the first activity takes the dataset's lock, a second one
/// is refused. A failure marks the version failed and releases the lock; the pointer never moved, so
/// the previous version keeps serving, and the orchestration ends failed.
/// </summary>
public sealed class PrecomputeOrchestrator : TaskOrchestrator<PrecomputeRequest, PrecomputeResult>
{
    private static readonly TaskOptions Retry = FanOut.Retry;

    public override async Task<PrecomputeResult> RunAsync(TaskOrchestrationContext context, PrecomputeRequest input)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(input);
        var log = context.CreateReplaySafeLogger<PrecomputeOrchestrator>();
        var version = DerivedVersionIds.Create(input.AsOf, context.NewGuid());
        var owner = context.InstanceId;
        var begin = await context.CallActivityAsync<BeginPrecomputeResult>(TaskNames.BeginPrecompute, new BeginPrecomputeInput(input, version, owner), Retry);
        if (begin.Refused is { } refused)
        {
            log.LogWarning("Precompute {Id} of {Dataset} refused: {Reason}", owner, input.Dataset, refused);
            return new PrecomputeResult(input.Dataset, version, PrecomputeOutcome.Refused, input.AsOf, 0, 0, null, refused);
        }

        try
        {
            var snapshot = await context.CallActivityAsync<string>(TaskNames.PrepareInputs, new PrepareInputsInput(begin.Snapshot, input.AsOf), Retry);

            // The orchestration's own clock (the same on every replay), so the rate and time left are deterministic.
            var fanOutStarted = context.CurrentUtcDateTime;
            var done = await FanOut.RunAsync<PartitionWork, PartitionCounts>(context, TaskNames.ComputePartition,
                Enumerable.Range(0, input.Partitions).Select(p => new PartitionWork(input.Dataset, version, snapshot, input.AsOf, p, input.Partitions, input.Size, begin.Model)),
                input.MaxParallel,
                // Progress of long precomputes: a line at each quarter of the partitions (the replay-safe logger stays quiet on replay).
                finished =>
                {
                    if (finished.Count * 4 / input.Partitions > (finished.Count - 1) * 4 / input.Partitions)
                    {
                        LogProgress(log, owner, input.Dataset, finished.Count, input.Partitions, finished.Sum(d => d.Keys), context.CurrentUtcDateTime - fanOutStarted);
                    }
                });

            var keys = done.Sum(d => d.Keys);
            var items = done.Sum(d => d.Items);
            var published = await context.CallActivityAsync<PublishPrecomputeResult>(TaskNames.PublishPrecompute,
                new PublishPrecomputeInput(input.Dataset, version, owner, keys, items), Retry);
            log.LogInformation("Precompute {Id} published {Dataset} {Version} as of {AsOf:O}: {Keys} keys, {Items} items (replaced {Replaced})",
                owner, input.Dataset, version, input.AsOf, keys, items, published.Replaced ?? "none");
            return new PrecomputeResult(input.Dataset, version, PrecomputeOutcome.Published, input.AsOf, keys, items, published.Replaced, null);
        }
        catch (TaskFailedException ex)
        {
            log.LogError("Precompute {Id} of {Dataset} {Version} failed; the previous version keeps serving: {Reason}", owner, input.Dataset, version, ex.Message);
            await context.CallActivityAsync(TaskNames.FailPrecompute, new FailPrecomputeInput(input.Dataset, version, owner, ex.FailureDetails.ErrorMessage), Retry);
            throw;
        }
    }

    /// <summary>
    /// One progress line of the fan-out: partitions computed of how many, the rate so far and the time
    /// left at that rate (from the orchestration's clock, <paramref name="elapsed"/> since the fan-out began), and the keys so far.
    /// </summary>
    public static void LogProgress(ILogger log, string id, string dataset, int done, int partitions, long keys, TimeSpan elapsed)
    {
        ArgumentNullException.ThrowIfNull(log);
        var progress = new ProgressRate(done, partitions, elapsed);
        if (progress.Left is { } left)
        {
            log.LogInformation("Precompute {Id} of {Dataset}: {Done} of {Partitions} partitions computed ({Rate:F2}/s), about {Left:F0} s left ({Keys} keys so far)",
                id, dataset, done, partitions, progress.PerSecond, left.TotalSeconds, keys);
        }
        else
        {
            log.LogInformation("Precompute {Id} of {Dataset}: {Done} of {Partitions} partitions computed ({Elapsed:F0} s so far), time left unknown ({Keys} keys so far)",
                id, dataset, done, partitions, elapsed.TotalSeconds, keys);
        }
    }
}
