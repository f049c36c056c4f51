using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
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
            var done = await FanOut.RunAsync<PartitionWork, PartitionCounts>(context, TaskNames.ComputePartition,
                Enumerable.Range(0, input.Partitions).Select(p => new PartitionWork(input.Dataset, version, snapshot, input.AsOf, p, input.Partitions, input.Size, begin.Model)),
                input.MaxParallel,
                // Progress of long precomputes: a line at each quarter of the partitions.
                finished =>
                {
                    if (finished.Count * 4 / input.Partitions > (finished.Count - 1) * 4 / input.Partitions)
                    {
                        log.LogInformation("Precompute {Id} of {Dataset}: {Done} of {Partitions} partitions computed ({Keys} keys so far)",
                            owner, input.Dataset, finished.Count, input.Partitions, finished.Sum(d => d.Keys));
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
}
