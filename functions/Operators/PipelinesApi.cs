using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Serverless.Functions.Http;
using Serverless.Requests;
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
        Problems.Guard(req, async () =>
        {
            // A repeated status reads as "a,b", which is no filter: refused as unknown, naming the filters.
            var status = TrainPipelineList.ParseFilter(req.Query["status"].ToString())
                ?? throw RequestRefusedException.BadRequest($"status must be one of {string.Join(", ", TrainPipelineList.Filters)}");
            var limit = req.QueryParameters().Int("limit", 1, TrainPipelineList.MaxLimit, TrainPipelineList.DefaultLimit);
            var pipelines = await TrainPipelineList.ListAsync(client, status, limit, req.HttpContext.RequestAborted);
            return new OkObjectResult(new { status, count = pipelines.Count, pipelines });
        });
}
