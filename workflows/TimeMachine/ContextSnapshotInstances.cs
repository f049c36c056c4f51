using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Serverless.TimeMachine;

namespace Serverless.Workflows.TimeMachine;

/// <summary>Starting context snapshots (HTTP, the daily timer, the main job) with one set of checks.</summary>
public static class ContextSnapshotInstances
{
    /// <summary>Member partitions captured by separate activities.</summary>
    public const int Partitions = 4;

    /// <summary>Partition activities at once.</summary>
    public const int MaxParallel = 2;

    public const int MaxRequestedBy = 200;

    /// <summary>
    /// Validates and schedules a snapshot whose instance id is its snapshot id (T and the sample), so
    /// the same snapshot is never taken twice. Throws <see cref="SnapshotRefusedException"/>: 400 for a
    /// T after now or a bad sample; 409 when that snapshot is complete or running. A previous run of the
    /// same id that failed (or found nothing) is purged and run again: its files are rewritten with the
    /// same content and only then is the manifest written.
    /// </summary>
    public static async Task<ContextSnapshotRequest> StartAsync(
        DurableTaskClient client, ContextSnapshotter snapshotter, TimeMachineOptions options, string configHash, DateTimeOffset now,
        DateTimeOffset? asOf, double? sampleRate, int? seed, int? strata, IReadOnlyList<string>? members, string? requestedBy, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(snapshotter);
        ArgumentNullException.ThrowIfNull(options);
        var at = asOf ?? now;
        if (at > now)
        {
            throw new SnapshotRefusedException(400, $"asOf {at:O} is in the future (now is {now:O}): a snapshot holds only what is known, and nothing is known about the future yet");
        }

        if (at.Year < 1990)
        {
            throw new SnapshotRefusedException(400, "asOf must be after 1990");
        }

        var sample = new ContextSample(sampleRate ?? options.SampleRate, seed ?? options.SampleSeed, strata ?? options.Strata, members);
        if (sample.Error() is { } error)
        {
            throw new SnapshotRefusedException(400, error);
        }

        var by = requestedBy ?? "anonymous";
        if (by.Length > MaxRequestedBy)
        {
            throw new SnapshotRefusedException(400, $"requestedBy may hold at most {MaxRequestedBy} characters");
        }

        var id = ContextSnapshotIds.Create(at, sample);
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

        var request = new ContextSnapshotRequest(id, at, sample, configHash, Partitions, MaxParallel, by);
        await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.ContextSnapshot, request, new StartOrchestrationOptions(id), cancellationToken);
        return request;
    }
}
