using Microsoft.DurableTask.Client;
using Serverless.Access;
using Serverless.Models;
using Serverless.Requests;
using Serverless.Training;

namespace Serverless.Workflows.TrainPipeline;

/// <summary>A training pipeline as a caller sees it: its runtime status, stage, result and failure.</summary>
public sealed record TrainPipelineState(string Id, string Status, TrainPipelineStatus? Progress, TrainPipelineResult? Result, string? Failure);

/// <summary>A pipeline that was started: its id and the fixed inputs.</summary>
public sealed record TrainPipelineStarted(string Id, TrainerKind Trainer, bool FromLoggedFeatures, TimeSpan ApprovalTimeout);

/// <summary>A decision delivered to a pipeline's approval gate, and who made it.</summary>
public sealed record ApprovalAccepted(string Id, bool Approve, string By, string ByObjectId);

/// <summary>Starting, reading and deciding training pipelines from outside (the HTTP API, the main job, tests).</summary>
public static class TrainPipelineInstances
{
    public const string What = "training pipeline";

    /// <summary>The pipeline's custom status, or null before it set one (the instance must be read with inputs and outputs).</summary>
    public static TrainPipelineStatus? Progress(OrchestrationMetadata? instance) =>
        instance?.SerializedCustomStatus is null ? null : instance.ReadCustomStatusAs<TrainPipelineStatus>();

    /// <summary>
    /// Starts a pipeline for a checked request. Who started it is the signed-in person when there is
    /// one (name and object id), else the name the caller typed (or "anonymous").
    /// </summary>
    public static async Task<TrainPipelineStarted> StartAsync(DurableTaskClient client, PipelineStartRequest body, OperatorIdentity? signedIn, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(body);
        var (trainer, fromLogs, timeout, by) = body.Validate(signedIn?.Name);
        var input = new TrainPipelineRequest(trainer, fromLogs, timeout, by, RequestedByObjectId: signedIn?.ObjectId);
        var id = await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, input, cancellationToken);
        return new TrainPipelineStarted(id, trainer, fromLogs, timeout);
    }

    /// <summary>The pipeline named <paramref name="id"/>: a 400 refusal for a malformed id, 404 when there is none.</summary>
    public static async Task<TrainPipelineState> StatusAsync(DurableTaskClient client, string id, CancellationToken cancellationToken = default)
    {
        var state = await DurableInstances.FindAsync(client, id, TaskNames.TrainPipeline, What, cancellationToken);
        return new TrainPipelineState(id, state.RuntimeStatus.ToString(), Progress(state), state.CompletedOutput<TrainPipelineResult>(), state.FailureDetails?.ErrorMessage);
    }

    /// <summary>
    /// Delivers <paramref name="by"/>'s decision to the pipeline's approval gate, once. Refusals: 400
    /// for a bad decision or id, 404 for no such pipeline, 409 when it is not waiting at the gate (still
    /// training, or ended) or when a decision was already made (a double click, two approvers at once:
    /// the registry's create-only claim lets one through). A claim whose event could not be raised is
    /// released, so the decision can be made again.
    /// </summary>
    public static async Task<ApprovalAccepted> DecideAsync(
        DurableTaskClient client, ModelRegistry registry, string id, OperatorIdentity by, ApprovalRequest body, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(by);
        ArgumentNullException.ThrowIfNull(body);
        var (approve, reason) = body.Validate();

        // Read with its custom status, which says whether it awaits a decision.
        var state = await DurableInstances.FindAsync(client, id, TaskNames.TrainPipeline, What, cancellationToken);
        var stage = Progress(state)?.Stage;
        if (state.RuntimeStatus != OrchestrationRuntimeStatus.Running || stage != TrainPipelineOrchestrator.StageAwaitingApproval)
        {
            throw RequestRefusedException.Conflict($"pipeline '{id}' is not awaiting approval (status {state.RuntimeStatus}, stage {stage ?? "(none)"})");
        }

        await registry.ClaimDecisionAsync(id, by, approve, cancellationToken);
        try
        {
            await client.RaiseEventAsync(id, TrainPipelineOrchestrator.ApprovalEvent, new ApprovalDecision(approve, by.Name, reason, ByObjectId: by.ObjectId), cancellationToken);
        }
        catch (Exception)
        {
            await registry.ReleaseDecisionAsync(id, CancellationToken.None);
            throw;
        }

        return new ApprovalAccepted(id, approve, by.Name, by.ObjectId);
    }

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
