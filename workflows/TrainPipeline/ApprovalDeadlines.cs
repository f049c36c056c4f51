using Microsoft.DurableTask.Client;

namespace Serverless.Workflows.TrainPipeline;

/// <summary>
/// Ends the wait of every training pipeline whose approval deadline has passed, by raising a
/// timed-out decision (the orchestrator then rejects the candidate). Run by a timer function every
/// minute; raising twice is harmless (the first decision wins, later ones are dropped).
/// </summary>
public static class ApprovalDeadlines
{
    /// <summary>
    /// <paramref name="now"/> is wall-clock UTC, the clock of durable timestamps (not a replay clock).
    /// Returns the pipelines it timed out.
    /// </summary>
    public static async Task<IReadOnlyList<string>> EnforceAsync(DurableTaskClient client, DateTime now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        var query = new OrchestrationQuery { Statuses = [OrchestrationRuntimeStatus.Running], FetchInputsAndOutputs = true };
        var timedOut = new List<string>();
        await foreach (var instance in client.GetAllInstancesAsync(query).WithCancellation(cancellationToken))
        {
            if (instance.Name != TaskNames.TrainPipeline)
            {
                continue;
            }

            if (TrainPipelineInstances.Progress(instance) is { Stage: TrainPipelineOrchestrator.StageAwaitingApproval, ApprovalDeadline: { } deadline } && deadline <= now)
            {
                await client.RaiseEventAsync(instance.InstanceId, TrainPipelineOrchestrator.ApprovalEvent,
                    new ApprovalDecision(false, "approval deadline", null, TimedOut: true), cancellationToken);
                timedOut.Add(instance.InstanceId);
            }
        }

        return timedOut;
    }
}
