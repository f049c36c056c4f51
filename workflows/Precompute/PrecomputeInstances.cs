using Microsoft.DurableTask.Client;
using Serverless.Precompute;

namespace Serverless.Workflows.Precompute;

/// <summary>A precompute run as a caller sees it: its runtime status, result and failure.</summary>
public sealed record PrecomputeRunState(string Id, string Status, PrecomputeResult? Result, string? Failure);

/// <summary>A precompute that was started: its id and the fixed inputs.</summary>
public sealed record PrecomputeStarted(string Id, string Dataset, DateTimeOffset AsOf, int Partitions, int Size);

/// <summary>A dataset's versions as GET /api/precompute/{dataset} shows them: the current one, the run holding its lock, and every version.</summary>
public sealed record DerivedVersionsView(string Dataset, DerivedVersion? Current, string? Running, IReadOnlyList<DerivedVersion> Versions);

/// <summary>Starting precomputes (HTTP, the main job, the benchmark) with one set of checks, and reading them.</summary>
public static class PrecomputeInstances
{
    /// <summary>Validates (<see cref="PrecomputeStartRequest.Validate"/>) and schedules a precompute; see <see cref="StartAsync(DurableTaskClient, DerivedVersionRegistry, PrecomputeOptions, PrecomputeStart, CancellationToken)"/>.</summary>
    public static Task<(string Id, PrecomputeRequest Request)> StartAsync(
        DurableTaskClient client, DerivedVersionRegistry registry, PrecomputeOptions options, string? dataset, DateTimeOffset now,
        DateTimeOffset? asOf, string? snapshot, int? size, string? requestedBy, string? requestedByObjectId, CancellationToken cancellationToken = default)
    {
        var start = new PrecomputeStartRequest(asOf, snapshot, size, requestedBy).Validate(dataset, now);
        return StartAsync(client, registry, options, start with { RequestedByObjectId = requestedByObjectId }, cancellationToken);
    }

    /// <summary>
    /// Schedules a checked precompute. Throws <see cref="PrecomputeRefusedException"/> 409 while another
    /// precompute of the dataset holds its lock (the orchestration checks again when it takes the lock,
    /// so a race still ends in one publish).
    /// </summary>
    public static async Task<(string Id, PrecomputeRequest Request)> StartAsync(
        DurableTaskClient client, DerivedVersionRegistry registry, PrecomputeOptions options, PrecomputeStart start, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(start);
        if (await registry.LockHolderAsync(start.Dataset, cancellationToken) is { } holder)
        {
            throw new PrecomputeRefusedException(409, $"a precompute of {start.Dataset} is already running ({holder}); one at a time, try again when it is done");
        }

        var request = new PrecomputeRequest(start.Dataset, start.AsOf, start.Snapshot, options.Partitions, options.MaxParallel, start.Size, start.RequestedBy)
        {
            RequestedByObjectId = start.RequestedByObjectId,
        };
        var id = await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.Precompute, request, cancellationToken);
        return (id, request);
    }

    /// <summary>The run named <paramref name="id"/>: a 400 refusal for a malformed id, 404 when there is none.</summary>
    public static async Task<PrecomputeRunState> StatusAsync(DurableTaskClient client, string id, CancellationToken cancellationToken = default)
    {
        var state = await DurableInstances.FindAsync(client, id, TaskNames.Precompute, "precompute", cancellationToken);
        return new PrecomputeRunState(id, state.RuntimeStatus.ToString(), state.CompletedOutput<PrecomputeResult>(), state.FailureDetails?.ErrorMessage);
    }

    /// <summary>A dataset's current version, the run holding its lock, and every version with when it was current.</summary>
    public static async Task<DerivedVersionsView> VersionsAsync(DerivedVersionRegistry registry, string dataset, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return new DerivedVersionsView(
            dataset,
            await registry.CurrentAsync(dataset, cancellationToken),
            await registry.LockHolderAsync(dataset, cancellationToken),
            await registry.ListAsync(dataset, cancellationToken));
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
