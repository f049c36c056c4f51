using Microsoft.DurableTask.Client;
using Serverless.Precompute;

namespace Serverless.Workflows.Precompute;

/// <summary>Starting precomputes (HTTP, the main job, the benchmark) with one set of checks.</summary>
public static class PrecomputeInstances
{
    public const int DefaultSize = 20;
    public const int MaxSize = 100;

    /// <summary>
    /// Validates a request and schedules the orchestration. Throws <see cref="PrecomputeRefusedException"/>:
    /// 400 for a bad dataset, size or asOf; 409 while another precompute of the dataset holds its lock
    /// (the orchestration checks again when it takes the lock, so a race still ends in one publish).
    /// </summary>
    public static async Task<(string Id, PrecomputeRequest Request)> StartAsync(
        DurableTaskClient client, DerivedVersionRegistry registry, PrecomputeOptions options, string? dataset, DateTimeOffset now,
        DateTimeOffset? asOf, string? snapshot, int? size, string? requestedBy, string? requestedByObjectId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(options);
        if (!DerivedDatasets.IsKnown(dataset))
        {
            throw new PrecomputeRefusedException(400, $"unknown dataset '{dataset}': use one of {string.Join(", ", DerivedDatasets.All)}");
        }

        var k = size ?? DefaultSize;
        if (k is < 1 or > MaxSize)
        {
            throw new PrecomputeRefusedException(400, $"size must be 1..{MaxSize}");
        }

        DateTimeOffset? snapshotAt = null;
        if (snapshot is not null)
        {
            try
            {
                snapshotAt = snapshot.Length <= 80 ? Training.TrainingJob.WatermarkOf(snapshot) : throw new InvalidDataException("too long");
            }
            catch (InvalidDataException)
            {
                throw new PrecomputeRefusedException(400, "snapshot must be a fact snapshot name (facts-<ticks>.jsonl.gz)");
            }
        }

        var at = asOf ?? snapshotAt ?? now;
        if (at > now)
        {
            throw new PrecomputeRefusedException(400, $"asOf {at:O} is in the future (now is {now:O}): a version holds only what is known");
        }

        if (snapshotAt is not null && snapshotAt != at)
        {
            throw new PrecomputeRefusedException(400, $"snapshot {snapshot} is as of {snapshotAt:O}, not asOf {at:O}");
        }

        var by = requestedBy ?? "anonymous";
        if (by.Length > 200)
        {
            throw new PrecomputeRefusedException(400, "requestedBy may hold at most 200 characters");
        }

        if (await registry.LockHolderAsync(dataset!, cancellationToken) is { } holder)
        {
            throw new PrecomputeRefusedException(409, $"a precompute of {dataset} is already running ({holder}); one at a time, try again when it is done");
        }

        var request = new PrecomputeRequest(dataset!, at, snapshot, options.Partitions, options.MaxParallel, k, by) { RequestedByObjectId = requestedByObjectId };
        var id = await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.Precompute, request, cancellationToken);
        return (id, request);
    }
}

/// <summary>What one run of the precompute timer did: cleanup, then the precomputes it started or was refused.</summary>
public sealed record ScheduledPrecomputeResult(DerivedCleanupResult Cleanup, IReadOnlyDictionary<string, string> Started, IReadOnlyDictionary<string, string> Refused);

/// <summary>The precompute timer (<c>Precompute__Schedule</c>): cleanup, then one precompute of each scheduled dataset as of now.</summary>
public static class ScheduledPrecompute
{
    public const string RequestedBy = "timer";

    /// <summary>
    /// Removes old versions (<see cref="DerivedDataCleanup"/>), then starts a precompute of each dataset
    /// in <see cref="PrecomputeOptions.ScheduledDatasets"/> as of <paramref name="now"/>. A dataset whose
    /// precompute still runs is refused (409) and named in the result: never two at once.
    /// </summary>
    public static async Task<ScheduledPrecomputeResult> RunAsync(
        DurableTaskClient client, DerivedVersionRegistry registry, DerivedDataCleanup cleanup, PrecomputeOptions options, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cleanup);
        ArgumentNullException.ThrowIfNull(options);
        var cleaned = await cleanup.RunAsync(cancellationToken);
        var started = new Dictionary<string, string>(StringComparer.Ordinal);
        var refused = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var dataset in options.ScheduledDatasetList())
        {
            try
            {
                started[dataset] = (await PrecomputeInstances.StartAsync(client, registry, options, dataset, now, null, null, null, RequestedBy, null, cancellationToken)).Id;
            }
            catch (PrecomputeRefusedException ex)
            {
                refused[dataset] = ex.Message;
            }
        }

        return new ScheduledPrecomputeResult(cleaned, started, refused);
    }
}
