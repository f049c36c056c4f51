using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Serverless.Functions.Http;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Functions.Operators;

/// <summary>Operators: the training pipelines, found through the durable client's instance query.</summary>
public static class PipelinesApi
{
    /// <summary>GET /api/pipelines?status=awaiting-approval|running|completed|failed|all&amp;limit=100: newest first.</summary>
    [Function("pipelines-list")]
    public static async Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "pipelines")] HttpRequest req,
        [DurableClient] DurableTaskClient client)
    {
        ArgumentNullException.ThrowIfNull(req);
        if (TrainPipelineList.ParseFilter(req.Query["status"].ToString()) is not { } status)
        {
            return Problems.BadRequest($"status must be one of {string.Join(", ", TrainPipelineList.Filters)}", req);
        }

        var limit = TrainPipelineList.DefaultLimit;
        if (req.Query["limit"].ToString() is { Length: > 0 } raw
            && (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > TrainPipelineList.MaxLimit))
        {
            return Problems.BadRequest($"limit must be an integer 1..{TrainPipelineList.MaxLimit}", req);
        }

        var pipelines = await TrainPipelineList.ListAsync(client, status, limit, req.HttpContext.RequestAborted);
        return new OkObjectResult(new { status, count = pipelines.Count, pipelines });
    }
}
