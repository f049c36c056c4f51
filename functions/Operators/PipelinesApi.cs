using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Serverless.Functions.Http;
using Serverless.Training;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Functions.Operators;

/// <summary>Operators: the training pipelines, found through the durable client's instance query.</summary>
public static class PipelinesApi
{
    /// <summary>GET /api/pipelines?status=awaiting-approval|running|completed|failed|all&amp;limit=100: newest first.</summary>
    [Function("pipelines-list")]
    public static Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "pipelines")] HttpRequest req,
        [DurableClient] DurableTaskClient client) =>
        Problems.Ok(req, () => TrainPipelineList.ListAsync(client, PipelinesQuery.From(req.QueryParameters()), req.HttpContext.RequestAborted));
}
