using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;
using Serverless.TimeMachine;

namespace Serverless.Workflows.TimeMachine;

/// <summary>Capture one member partition of a snapshot.</summary>
public sealed record CaptureSnapshotPartitionInput(string Id, DateTimeOffset AsOf, int Partition);

/// <summary>Capture the catalog of a snapshot and name the derived versions current at T.</summary>
public sealed record CaptureSnapshotCatalogInput(string Id, DateTimeOffset AsOf);

/// <summary>Write the manifest of a snapshot whose files are all written.</summary>
public sealed record CompleteSnapshotInput(ContextSnapshotRequest Request, IReadOnlyList<SnapshotPart> Parts, SnapshotCatalogPart Catalog);

/// <summary>
/// The Snapshotter of chosen contexts: plans the sample (members by activity stratum, the plan kept as a
/// blob), captures the member partitions (fan-out, at most <see cref="ContextSnapshotRequest.MaxParallel"/>
/// at once, each retried with backoff) and the catalog with the derived versions current at T, then
/// writes the manifest last, once. Data travels as blob names and counts, never through the history.
/// An interrupted run resumes by replay (finished activities are not run again; a retried one rewrites
/// the same content), so it ends in one complete snapshot; a run that fails for good leaves no manifest,
/// so no half-written snapshot is ever complete.
/// </summary>
public sealed class ContextSnapshotOrchestrator : TaskOrchestrator<ContextSnapshotRequest, ContextSnapshotResult>
{
    private static readonly TaskOptions Retry = FanOut.Retry;

    public override async Task<ContextSnapshotResult> RunAsync(TaskOrchestrationContext context, ContextSnapshotRequest input)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(input);
        var log = context.CreateReplaySafeLogger<ContextSnapshotOrchestrator>();
        var plan = await context.CallActivityAsync<SnapshotPlanSummary>(TaskNames.PlanContextSnapshot, input, Retry);
        if (plan.Members == 0)
        {
            var reason = $"no member of {plan.Population} had a fact known at {input.AsOf:O} ({plan.WithoutHistory} without history): nothing to capture, no snapshot written";
            log.LogWarning("Context snapshot {Id}: {Reason}", input.Id, reason);
            return new ContextSnapshotResult(input.Id, ContextSnapshotOutcome.Empty, input.AsOf, 0, 0, 0, reason);
        }

        var catalog = context.CallActivityAsync<SnapshotCatalogPart>(TaskNames.CaptureSnapshotCatalog, new CaptureSnapshotCatalogInput(input.Id, input.AsOf), Retry);
        var parts = await FanOut.RunAsync<CaptureSnapshotPartitionInput, SnapshotPart>(context, TaskNames.CaptureSnapshotPartition,
            Enumerable.Range(0, input.Partitions).Select(p => new CaptureSnapshotPartitionInput(input.Id, input.AsOf, p)), input.MaxParallel);
        var manifest = await context.CallActivityAsync<ContextSnapshotManifest>(TaskNames.CompleteContextSnapshot,
            new CompleteSnapshotInput(input, parts.OrderBy(p => p.Blob, StringComparer.Ordinal).ToList(), await catalog), Retry);
        log.LogInformation("{Summary}", manifest.Summary());
        return new ContextSnapshotResult(manifest.Id, ContextSnapshotOutcome.Complete, manifest.AsOf, manifest.Members, manifest.MemberFacts, manifest.Bytes, null);
    }
}

/// <summary>Chooses the sample and writes the plan (once).</summary>
public sealed class PlanContextSnapshotActivity(ContextSnapshotter snapshotter) : TaskActivity<ContextSnapshotRequest, SnapshotPlanSummary>
{
    public override Task<SnapshotPlanSummary> RunAsync(TaskActivityContext context, ContextSnapshotRequest input) => snapshotter.PlanAsync(input);
}

/// <summary>Captures one member partition.</summary>
public sealed class CaptureSnapshotPartitionActivity(ContextSnapshotter snapshotter) : TaskActivity<CaptureSnapshotPartitionInput, SnapshotPart>
{
    public override Task<SnapshotPart> RunAsync(TaskActivityContext context, CaptureSnapshotPartitionInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return snapshotter.CapturePartitionAsync(input.Id, input.AsOf, input.Partition);
    }
}

/// <summary>Captures the catalog and the derived versions current at T.</summary>
public sealed class CaptureSnapshotCatalogActivity(ContextSnapshotter snapshotter) : TaskActivity<CaptureSnapshotCatalogInput, SnapshotCatalogPart>
{
    public override Task<SnapshotCatalogPart> RunAsync(TaskActivityContext context, CaptureSnapshotCatalogInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return snapshotter.CaptureCatalogAsync(input.Id, input.AsOf);
    }
}

/// <summary>Writes the manifest last (If-None-Match: once).</summary>
public sealed class CompleteContextSnapshotActivity(ContextSnapshotter snapshotter, TimeProvider time) : TaskActivity<CompleteSnapshotInput, ContextSnapshotManifest>
{
    public override Task<ContextSnapshotManifest> RunAsync(TaskActivityContext context, CompleteSnapshotInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return snapshotter.CompleteAsync(input.Request, input.Parts, input.Catalog, time.GetUtcNow());
    }
}
