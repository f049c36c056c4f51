using Microsoft.DurableTask;
using Serverless.Archive;
using Serverless.Features;
using Serverless.Models;
using Serverless.Precompute;
using Serverless.TimeMachine;
using Serverless.Training;

namespace Serverless.Workflows.Precompute;

/// <summary>
/// Takes the dataset's lock and registers the version as Building. A member top-N needs a live model
/// (its version becomes an input). Refusals come back as a result, not an error, so they are not retried.
/// </summary>
public sealed class BeginPrecomputeActivity(DerivedVersionRegistry registry, ModelRegistry models, FeatureEncoder encoder)
    : TaskActivity<BeginPrecomputeInput, BeginPrecomputeResult>
{
    /// <summary>How long a lock holds without its precompute finishing (a crashed run frees the dataset after it).</summary>
    public static readonly TimeSpan LockLease = TimeSpan.FromHours(2);

    public override async Task<BeginPrecomputeResult> RunAsync(TaskActivityContext context, BeginPrecomputeInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var r = input.Request;
        var snapshot = r.Snapshot ?? FactSnapshotStore.BlobName(r.AsOf);
        string? model = null;
        if (r.Dataset == DerivedDatasets.MemberTopN)
        {
            model = (await models.GetLiveAsync())?.Version;
            if (model is null)
            {
                return new BeginPrecomputeResult(snapshot, null, "no model is live: a member top-N is scored with the live model");
            }
        }

        var inputs = new List<string> { PrecomputeInputs.SnapshotPrefix + snapshot, "requestedBy:" + r.RequestedBy };
        if (r.RequestedByObjectId is { } objectId)
        {
            inputs.Add("requestedByObjectId:" + objectId);
        }

        if (model is not null)
        {
            inputs.Add(PrecomputeInputs.ModelPrefix + model);
        }

        try
        {
            await registry.BeginAsync(new DerivedVersion(r.Dataset, input.Version, DerivedVersionStatus.Building, r.AsOf, inputs, PrecomputeCode.Hash(encoder.ConfigHash),
                r.Partitions, new Dictionary<string, long>(), default, null, null, input.Owner, null), LockLease);
        }
        catch (PrecomputeRefusedException ex)
        {
            return new BeginPrecomputeResult(snapshot, model, ex.Message);
        }

        return new BeginPrecomputeResult(snapshot, model, null);
    }
}

/// <summary>Makes sure the fact snapshot exists: reads the archive's batch interface as of T into it when it does not.</summary>
public sealed class PrepareInputsActivity(FactSnapshotStore snapshots, ArchiveReader reader) : TaskActivity<PrepareInputsInput, string>
{
    public override async Task<string> RunAsync(TaskActivityContext context, PrepareInputsInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (await snapshots.ExistsAsync(input.Snapshot, CancellationToken.None))
        {
            if (TrainingJob.WatermarkOf(input.Snapshot) != input.AsOf)
            {
                throw new InvalidOperationException($"snapshot {input.Snapshot} is as of {TrainingJob.WatermarkOf(input.Snapshot):O}, the precompute as of {input.AsOf:O}");
            }

            return input.Snapshot;
        }

        if (input.Snapshot != FactSnapshotStore.BlobName(input.AsOf))
        {
            throw new InvalidOperationException($"snapshot {input.Snapshot} does not exist");
        }

        var facts = await FactSnapshotStore.ReadArchiveAsync(reader, input.AsOf, CancellationToken.None);
        return await snapshots.SaveAsync(facts, input.AsOf, CancellationToken.None);
    }
}

/// <summary>Computes and writes one key partition (see <see cref="PrecomputeWorker"/>).</summary>
public sealed class ComputePartitionActivity(PrecomputeWorker worker) : TaskActivity<PartitionWork, PartitionCounts>
{
    public override Task<PartitionCounts> RunAsync(TaskActivityContext context, PartitionWork input) => worker.ComputeAsync(input);
}

/// <summary>Writes the version's manifest, then switches the pointer (ETag-guarded, one transaction with the lock's release).</summary>
public sealed class PublishPrecomputeActivity(DerivedVersionRegistry registry, DerivedDataStore store) : TaskActivity<PublishPrecomputeInput, PublishPrecomputeResult>
{
    public override async Task<PublishPrecomputeResult> RunAsync(TaskActivityContext context, PublishPrecomputeInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var before = await registry.CurrentAsync(input.Dataset);
        var counts = new Dictionary<string, long> { ["keys"] = input.Keys, ["items"] = input.Items };
        var building = await registry.GetAsync(input.Dataset, input.Version) ?? throw new InvalidOperationException($"version {input.Version} of {input.Dataset} is not registered");
        await store.WriteManifestAsync(building with { Counts = counts });
        var published = await registry.PublishAsync(input.Dataset, input.Version, input.Owner, counts);
        await store.WriteManifestAsync(published);
        return new PublishPrecomputeResult(published.Version, before?.Version == input.Version ? null : before?.Version);
    }
}

/// <summary>Marks the version failed and releases the lock.</summary>
public sealed class FailPrecomputeActivity(DerivedVersionRegistry registry) : TaskActivity<FailPrecomputeInput, bool>
{
    public override async Task<bool> RunAsync(TaskActivityContext context, FailPrecomputeInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        await registry.FailAsync(input.Dataset, input.Version, input.Owner, input.Reason);
        return true;
    }
}
