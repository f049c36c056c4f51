using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Serverless.Access;
using Serverless.Functions.Http;
using Serverless.Models;
using Serverless.Training;
using Serverless.Workflows;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Functions.Models;

/// <summary>Operators start the train -> validate (Sentinel) -> approval -> publish pipeline, watch it, and decide.</summary>
public sealed class TrainPipelineFunctions(ModelRegistry registry)
{
    [Function("train-pipeline-start")]
    public static Task<IActionResult> Start(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "pipelines/train")] HttpRequest req,
        [DurableClient] DurableTaskClient client) =>
        Problems.Guard(req, async () =>
        {
            var started = await TrainPipelineInstances.StartAsync(client, (await JsonBody.ReadAsync(req, 4 * 1024, PipelineStartRequest.Empty))!, req.OptionalPrincipal(), req.HttpContext.RequestAborted);
            return new AcceptedResult($"/api/pipelines/train/{started.Id}", started);
        });

    [Function("train-pipeline-status")]
    public static Task<IActionResult> Status(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "pipelines/train/{id}")] HttpRequest req,
        string id,
        [DurableClient] DurableTaskClient client) =>
        Problems.Ok(req, () => TrainPipelineInstances.StatusAsync(client, id, req.HttpContext.RequestAborted));

    /// <summary>
    /// A signed-in person with the Approver role decides; the registry records their name and object id.
    /// One decision counts: a second one (a double click, two approvers at once) is a 409.
    /// </summary>
    [Function("train-pipeline-approval")]
    public Task<IActionResult> Approval(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "pipelines/train/{id}/approval")] HttpRequest req,
        string id,
        [DurableClient] DurableTaskClient client) =>
        Problems.Guard(req, async () =>
        {
            var by = req.RequireRole(OperatorRoles.Approver);
            var decided = await TrainPipelineInstances.DecideAsync(client, registry, id, by, (await JsonBody.ReadAsync(req, 4 * 1024, ApprovalRequest.Empty))!, req.HttpContext.RequestAborted);
            return new AcceptedResult($"/api/pipelines/train/{id}", decided);
        });

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
