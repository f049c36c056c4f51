using Microsoft.DurableTask.Client;
using Serverless.Training;

namespace Serverless.Workflows.TrainPipeline;

/// <summary>One training pipeline as operators list them: where it is, and until when it waits for a person.</summary>
public sealed record TrainPipelineSummary(
    string Id,
    string Status,
    string? Stage,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastUpdatedAt,
    DateTime? ApprovalDeadline,
    string? Version,
    string? Validation,
    string? Outcome,
    string? Reason,
    string? Failure);

/// <summary>GET /api/pipelines' answer: the filter applied, how many, the pipelines newest first.</summary>
public sealed record TrainPipelinePage(string Status, int Count, IReadOnlyList<TrainPipelineSummary> Pipelines);

/// <summary>
/// Lists training pipelines through the durable client's instance query (no table of our own):
/// <c>awaiting-approval</c> (running, at the approval gate), <c>running</c> (pending or running, any
/// stage), <c>completed</c>, <c>failed</c> (failed or terminated), or <c>all</c>. Newest first.
/// </summary>
public static class TrainPipelineList
{
    /// <summary>The pipelines a checked query asks for.</summary>
    public static async Task<TrainPipelinePage> ListAsync(DurableTaskClient client, PipelinesQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var pipelines = await ListAsync(client, query.Status, query.Limit, cancellationToken);
        return new TrainPipelinePage(query.Status, pipelines.Count, pipelines);
    }

    /// <summary>At most <paramref name="limit"/> pipelines that match <paramref name="filter"/> (one of <see cref="PipelinesQuery.Filters"/>), newest first.</summary>
    public static async Task<IReadOnlyList<TrainPipelineSummary>> ListAsync(DurableTaskClient client, string filter, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (!PipelinesQuery.Filters.Contains(filter, StringComparer.Ordinal))
        {
            throw new ArgumentException($"status must be one of {string.Join(", ", PipelinesQuery.Filters)}", nameof(filter));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, PipelinesQuery.MaxLimit);
        var query = new OrchestrationQuery
        {
            Statuses = RuntimeStatuses(filter),
            FetchInputsAndOutputs = true,
            PageSize = 100,
        };

        var found = new List<TrainPipelineSummary>();
        await foreach (var instance in client.GetAllInstancesAsync(query).WithCancellation(cancellationToken))
        {
            if (instance.Name != TaskNames.TrainPipeline)
            {
                continue;
            }

            // A backend whose query leaves out the custom status (the stage): read the instance itself.
            var read = instance.SerializedCustomStatus is null && !instance.IsCompleted
                ? await client.GetInstanceAsync(instance.InstanceId, getInputsAndOutputs: true, cancellationToken) ?? instance
                : instance;
            var summary = Summarize(read);
            if (filter == PipelinesQuery.AwaitingApproval && summary.Stage != PipelinesQuery.AwaitingApproval)
            {
                continue;
            }

            found.Add(summary);
        }

        return found.OrderByDescending(p => p.CreatedAt).ThenBy(p => p.Id, StringComparer.Ordinal).Take(limit).ToList();
    }

    /// <summary>What the list shows of one instance (read with inputs, outputs and custom status).</summary>
    public static TrainPipelineSummary Summarize(OrchestrationMetadata instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        TrainPipelineStatus? progress = null;
        TrainPipelineResult? result = null;
        try
        {
            progress = TrainPipelineInstances.Progress(instance);
            result = instance.RuntimeStatus == OrchestrationRuntimeStatus.Completed && instance.SerializedOutput is not null
                ? instance.ReadOutputAs<TrainPipelineResult>()
                : null;
        }
        catch (System.Text.Json.JsonException)
        {
            // An instance of another shape under this name (e.g. from an older build): listed without details.
        }

        var awaiting = instance.RuntimeStatus == OrchestrationRuntimeStatus.Running && progress?.Stage == PipelinesQuery.AwaitingApproval;
        return new TrainPipelineSummary(
            instance.InstanceId,
            instance.RuntimeStatus.ToString(),
            progress?.Stage,
            instance.CreatedAt,
            instance.LastUpdatedAt,
            awaiting ? progress!.ApprovalDeadline : null,
            result?.Version ?? progress?.Candidate?.Version,
            progress?.Validation?.Summary ?? progress?.Candidate?.Sentinel,
            result?.Outcome.ToString(),
            result?.Reason,
            instance.FailureDetails?.ErrorMessage);
    }

    private static List<OrchestrationRuntimeStatus>? RuntimeStatuses(string filter) => filter switch
    {
        PipelinesQuery.AwaitingApproval => [OrchestrationRuntimeStatus.Running],
        PipelinesQuery.Running => [OrchestrationRuntimeStatus.Pending, OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Suspended],
        PipelinesQuery.Completed => [OrchestrationRuntimeStatus.Completed],
        PipelinesQuery.Failed => [OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated],
        _ => null,
    };
}
