using Microsoft.DurableTask.Client;

namespace Serverless.Workflows.TrainPipeline;

/// <summary>Reading a training pipeline's state from outside: its progress, and waiting for its approval gate.</summary>
public static class TrainPipelineInstances
{
    /// <summary>The pipeline's custom status, or null before it set one (the instance must be read with inputs and outputs).</summary>
    public static TrainPipelineStatus? Progress(OrchestrationMetadata? instance) =>
        instance?.SerializedCustomStatus is null ? null : instance.ReadCustomStatusAs<TrainPipelineStatus>();

    /// <summary>Polls until the pipeline waits for a decision or has ended; returns its state then (null: no such instance).</summary>
    public static async Task<OrchestrationMetadata?> WaitForApprovalGateAsync(DurableTaskClient client, string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        while (true)
        {
            var state = await client.GetInstanceAsync(id, getInputsAndOutputs: true, cancellationToken);
            if (state is null || state.IsCompleted || Progress(state)?.Stage == TrainPipelineOrchestrator.StageAwaitingApproval)
            {
                return state;
            }

            await Task.Delay(200, cancellationToken);
        }
    }
}
