using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Serverless.Functions.Http;
using Serverless.Functions.Operators;
using Serverless.Models;
using Serverless.Workflows;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Functions.Models;

/// <summary>Operators start the train -> validate (Sentinel) -> approval -> publish pipeline, watch it, and decide.</summary>
public sealed class TrainPipelineFunctions
{
    public static readonly TimeSpan DefaultApprovalTimeout = TrainPipelineRequest.DefaultApprovalTimeout;
    public static readonly TimeSpan MinApprovalTimeout = TrainPipelineRequest.MinApprovalTimeout;
    public static readonly TimeSpan MaxApprovalTimeout = TrainPipelineRequest.MaxApprovalTimeout;

    /// <summary>Body of POST /api/pipelines/train.</summary>
    public sealed record StartBody(TrainerKind? Trainer, bool? FromLoggedFeatures, TimeSpan? ApprovalTimeout, string? RequestedBy);

    /// <summary>Body of POST /api/pipelines/train/{id}/approval.</summary>
    public sealed record ApprovalBody(bool? Approve, string? By, string? Reason);

    [Function("train-pipeline-start")]
    public static async Task<IActionResult> Start(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "pipelines/train")] HttpRequest req,
        [DurableClient] DurableTaskClient client)
    {
        var (body, problem) = await JsonBody.ReadAsync(req, 4 * 1024, new StartBody(null, null, null, null));
        if (problem is not null)
        {
            return problem;
        }

        var timeout = body!.ApprovalTimeout ?? DefaultApprovalTimeout;
        if (timeout < MinApprovalTimeout || timeout > MaxApprovalTimeout)
        {
            return Problems.BadRequest($"approvalTimeout must be {MinApprovalTimeout}..{MaxApprovalTimeout}", req);
        }

        var trainer = body.Trainer ?? TrainerKind.LightGbm;
        if (!Enum.IsDefined(trainer))
        {
            return Problems.BadRequest($"trainer must be one of {string.Join(", ", Enum.GetNames<TrainerKind>())}", req);
        }

        var by = body.RequestedBy ?? "anonymous";
        if (by.Length > 200)
        {
            return Problems.BadRequest("requestedBy may hold at most 200 characters", req);
        }

        var input = new TrainPipelineRequest(trainer, body.FromLoggedFeatures ?? false, timeout, by);
        var id = await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, input, req.HttpContext.RequestAborted);
        return new AcceptedResult($"/api/pipelines/train/{id}", new { id, input.Trainer, input.FromLoggedFeatures, input.ApprovalTimeout });
    }

    [Function("train-pipeline-status")]
    public static async Task<IActionResult> Status(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "pipelines/train/{id}")] HttpRequest req,
        string id,
        [DurableClient] DurableTaskClient client)
    {
        var (state, problem) = await DurableInstances.FindAsync(client, req, id, TaskNames.TrainPipeline, "training pipeline");
        if (state is null)
        {
            return problem!;
        }

        return new OkObjectResult(new
        {
            id,
            status = state.RuntimeStatus.ToString(),
            progress = TrainPipelineInstances.Progress(state),
            result = state.RuntimeStatus == OrchestrationRuntimeStatus.Completed ? state.ReadOutputAs<TrainPipelineResult>() : null,
            failure = state.FailureDetails?.ErrorMessage,
        });
    }

    [Function("train-pipeline-approval")]
    public static async Task<IActionResult> Approval(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "pipelines/train/{id}/approval")] HttpRequest req,
        string id,
        [DurableClient] DurableTaskClient client)
    {
        var (body, problem) = await JsonBody.ReadAsync<ApprovalBody>(req, 4 * 1024);
        if (problem is not null)
        {
            return problem;
        }

        if (body?.Approve is not { } approve || string.IsNullOrWhiteSpace(body.By) || body.By.Length > 200 || body.Reason is { Length: > 1000 })
        {
            return Problems.BadRequest("a body {\"approve\": true|false, \"by\": \"who decides\" (1..200 characters), \"reason\"?: (at most 1000)} is required", req);
        }

        // Found with its custom status, which says whether it awaits a decision.
        var (state, missing) = await DurableInstances.FindAsync(client, req, id, TaskNames.TrainPipeline, "training pipeline");
        if (state is null)
        {
            return missing!;
        }

        var stage = TrainPipelineInstances.Progress(state)?.Stage;
        if (state.RuntimeStatus != OrchestrationRuntimeStatus.Running || stage != TrainPipelineOrchestrator.StageAwaitingApproval)
        {
            return Problems.Create(StatusCodes.Status409Conflict, "Conflict",
                $"pipeline '{id}' is not awaiting approval (status {state.RuntimeStatus}, stage {stage ?? "(none)"})", req);
        }

        // One decision per pipeline, even when two arrive together (a double click): the second is a 409.
        if (await PipelineDecisions.DeliverOnceAsync(req, id, new ApprovalDecision(approve, body.By, body.Reason),
            () => client.RaiseEventAsync(id, TrainPipelineOrchestrator.ApprovalEvent, new ApprovalDecision(approve, body.By, body.Reason), req.HttpContext.RequestAborted)) is { } refused)
        {
            return refused;
        }

        return new AcceptedResult($"/api/pipelines/train/{id}", new { id, approve, body.By });
    }

    [Function(TaskNames.TrainPipeline)]
    public static Task<TrainPipelineResult> Orchestrate([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new TrainPipelineOrchestrator().RunAsync(context, context.GetInput<TrainPipelineRequest>());

    [Function(TaskNames.TrainCandidate)]
    public static Task<TrainedCandidate> TrainCandidate([ActivityTrigger] TrainPipelineRequest input, FunctionContext context) =>
        context.InstanceServices.GetActivity<TrainCandidateActivity>().RunAsync(new FunctionActivityContext(TaskNames.TrainCandidate, context.InvocationId), input);

    [Function(TaskNames.ValidateCandidate)]
    public static Task<ValidationOutcome> ValidateCandidate([ActivityTrigger] string input, FunctionContext context) =>
        context.InstanceServices.GetActivity<ValidateCandidateActivity>().RunAsync(new FunctionActivityContext(TaskNames.ValidateCandidate, context.InvocationId), input);

    [Function(TaskNames.PublishModel)]
    public static Task<PublishOutcome> PublishModel([ActivityTrigger] ModelDecision input, FunctionContext context) =>
        context.InstanceServices.GetActivity<PublishModelActivity>().RunAsync(new FunctionActivityContext(TaskNames.PublishModel, context.InvocationId), input);

    [Function(TaskNames.RejectModel)]
    public static Task<bool> RejectModel([ActivityTrigger] ModelDecision input, FunctionContext context) =>
        context.InstanceServices.GetActivity<RejectModelActivity>().RunAsync(new FunctionActivityContext(TaskNames.RejectModel, context.InvocationId), input);
}
