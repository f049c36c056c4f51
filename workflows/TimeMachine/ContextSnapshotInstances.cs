using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Serverless.TimeMachine;

namespace Serverless.Workflows.TimeMachine;

/// <summary>A context snapshot as a caller sees it: complete (its manifest), or its run's status, result and failure.</summary>
/// <param name="Status">Complete, Empty (no member had a fact at T), or the run's runtime status.</param>
public sealed record ContextSnapshotState(string Id, string Status, ContextSnapshotManifest? Manifest, string? Summary, ContextSnapshotResult? Result, string? Failure)
{
    /// <summary>The run is still under way (a 202 for a caller); not part of the body.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool UnderWay { get; init; }
}

/// <summary>A snapshot that was started: its id, T and the sample described.</summary>
public sealed record ContextSnapshotStarted(string Id, DateTimeOffset AsOf, string Sample)
{
    public static ContextSnapshotStarted Of(ContextSnapshotRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new(request.Id, request.AsOf, request.Sample.Describe());
    }
}

/// <summary>Starting context snapshots (HTTP, the daily timer, the main job) with one set of checks, and reading them.</summary>
public static class ContextSnapshotInstances
{
    /// <summary>Member partitions captured by separate activities.</summary>
    public const int Partitions = 4;

    /// <summary>Partition activities at once.</summary>
    public const int MaxParallel = 2;

    /// <summary>
    /// Validates (<see cref="SnapshotStartRequest.Validate"/>) and schedules a snapshot; see
    /// <see cref="StartAsync(DurableTaskClient, ContextSnapshotter, string, SnapshotStart, CancellationToken)"/>.
    /// </summary>
    public static Task<ContextSnapshotRequest> StartAsync(
        DurableTaskClient client, ContextSnapshotter snapshotter, TimeMachineOptions options, string configHash, DateTimeOffset now,
        DateTimeOffset? asOf, double? sampleRate, int? seed, int? strata, IReadOnlyList<string>? members, string? requestedBy, CancellationToken cancellationToken = default) =>
        StartAsync(client, snapshotter, configHash, new SnapshotStartRequest(asOf, sampleRate, seed, strata, members?.ToArray(), requestedBy).Validate(now, options), cancellationToken);

    /// <summary>
    /// Schedules a checked snapshot whose instance id is its snapshot id (T and the sample), so the
    /// same snapshot is never taken twice. Throws <see cref="SnapshotRefusedException"/> 409 when that
    /// snapshot is complete or running. A previous run of the same id that failed (or found nothing)
    /// is purged and run again: its files are rewritten with the same content and only then is the
    /// manifest written.
    /// </summary>
    public static async Task<ContextSnapshotRequest> StartAsync(
        DurableTaskClient client, ContextSnapshotter snapshotter, string configHash, SnapshotStart start, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(snapshotter);
        ArgumentNullException.ThrowIfNull(start);
        var id = ContextSnapshotIds.Create(start.AsOf, start.Sample);
        if (await snapshotter.GetManifestAsync(id, cancellationToken) is not null)
        {
            throw new SnapshotRefusedException(409, $"snapshot {id} (the same T and sample) is already complete: GET /api/timemachine/snapshots/{id}");
        }

        if (await client.GetInstanceAsync(id, getInputsAndOutputs: false, cancellationToken) is { } previous)
        {
            if (previous.RuntimeStatus is OrchestrationRuntimeStatus.Running or OrchestrationRuntimeStatus.Pending or OrchestrationRuntimeStatus.Suspended)
            {
                throw new SnapshotRefusedException(409, $"snapshot {id} is being taken: GET /api/timemachine/snapshots/{id}");
            }

            await client.PurgeInstanceAsync(id, cancellation: cancellationToken);
        }

        var request = new ContextSnapshotRequest(id, start.AsOf, start.Sample, configHash, Partitions, MaxParallel, start.RequestedBy)
        {
            RequestedByObjectId = start.RequestedByObjectId,
        };
        await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.ContextSnapshot, request, new StartOrchestrationOptions(id), cancellationToken);
        return request;
    }

    /// <summary>
    /// The daily snapshot: as of <paramref name="now"/> (whole seconds), of the configured sample,
    /// requested by "timer". One already taken or running (a timer that fired twice) is left alone: null.
    /// </summary>
    public static async Task<ContextSnapshotRequest?> StartScheduledAsync(
        DurableTaskClient client, ContextSnapshotter snapshotter, TimeMachineOptions options, string configHash, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var at = new DateTimeOffset(now.UtcTicks - now.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
        try
        {
            return await StartAsync(client, snapshotter, configHash, (SnapshotStartRequest.Empty with { AsOf = at, RequestedBy = "timer" }).Validate(now, options), cancellationToken);
        }
        catch (SnapshotRefusedException ex) when (ex.Status == 409)
        {
            return null;
        }
    }

    /// <summary>
    /// The snapshot named <paramref name="id"/>: its manifest when complete, else its run (under way,
    /// failed, or empty). A 400 refusal for an id that is not a snapshot id, 404 when there is neither.
    /// </summary>
    public static async Task<ContextSnapshotState> GetAsync(DurableTaskClient client, ContextSnapshotter snapshotter, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshotter);
        if (!ContextSnapshotIds.IsValid(id))
        {
            throw new SnapshotRefusedException(400, "id must be a snapshot id (ctx-<yyyyMMddTHHmmss + 7 digits>-<12 hex>)");
        }

        if (await snapshotter.GetManifestAsync(id, cancellationToken) is { } manifest)
        {
            return new ContextSnapshotState(id, nameof(ContextSnapshotOutcome.Complete), manifest, manifest.Summary(), null, null);
        }

        var state = await DurableInstances.FindAsync(client, id, TaskNames.ContextSnapshot, "context snapshot", cancellationToken);
        var result = state.CompletedOutput<ContextSnapshotResult>();
        return new ContextSnapshotState(id, result?.Outcome.ToString() ?? state.RuntimeStatus.ToString(), null, null, result, state.FailureDetails?.ErrorMessage)
        {
            UnderWay = state.RuntimeStatus is OrchestrationRuntimeStatus.Running or OrchestrationRuntimeStatus.Pending,
        };
    }
}
