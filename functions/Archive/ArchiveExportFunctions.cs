using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Serverless.Archive;
using Serverless.Facts;
using Serverless.Functions.Http;
using Serverless.Workflows;
using Serverless.Workflows.ArchiveExport;

namespace Serverless.Functions.Archive;

/// <summary>Operators start and watch archive exports (durable, paged, throttled).</summary>
public sealed class ArchiveExportFunctions(ArchiveOptions options, TimeProvider time)
{
    /// <summary>Body of POST /api/archive/exports.</summary>
    public sealed record ExportBody(string? Member, DateTimeOffset? From, DateTimeOffset? To, DateTimeOffset? AsOf, int? PageSize);

    [Function("archive-export-start")]
    public async Task<IActionResult> Start(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "archive/exports")] HttpRequest req,
        [DurableClient] DurableTaskClient client)
    {
        // No body: export everything known now, with the default page size.
        var (read, problem) = await JsonBody.ReadAsync(req, 16 * 1024, new ExportBody(null, null, null, null, null));
        if (problem is not null)
        {
            return problem;
        }

        var body = read!;
        if (body.Member is { } member && FactValidator.KeyError("member", member, FactValidator.MaxKeyLength, true) is { } memberError)
        {
            return Problems.BadRequest(memberError, req);
        }

        if (body.From is { } from && body.To is { } to && from >= to)
        {
            return Problems.BadRequest("from must be before to", req);
        }

        var now = time.GetUtcNow();
        if (body.AsOf is { } asOf && AsOfRule.Error(asOf, now) is { } asOfError)
        {
            return Problems.BadRequest(asOfError, req);
        }

        var pageSize = body.PageSize ?? options.BatchMaxPageSize;
        if (pageSize < 1 || pageSize > options.BatchMaxPageSize)
        {
            return Problems.BadRequest($"pageSize must be 1..{options.BatchMaxPageSize}", req);
        }

        var request = new ArchiveExportRequest(body.Member, body.From, body.To, body.AsOf ?? now, pageSize);
        var id = await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.ArchiveExport, ArchiveExportOrchestrator.Start(request), req.HttpContext.RequestAborted);
        return new AcceptedResult($"/api/archive/exports/{id}", new { id, request.AsOf });
    }

    [Function("archive-export-status")]
    public static async Task<IActionResult> Status(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "archive/exports/{id}")] HttpRequest req,
        string id,
        [DurableClient] DurableTaskClient client)
    {
        var (state, problem) = await DurableInstances.FindAsync(client, req, id, TaskNames.ArchiveExport, "export");
        if (state is null)
        {
            return problem!;
        }

        return new OkObjectResult(new
        {
            id,
            status = state.RuntimeStatus.ToString(),
            result = state.IsCompleted && state.RuntimeStatus == OrchestrationRuntimeStatus.Completed ? state.ReadOutputAs<ArchiveExportResult>() : null,
            failure = state.FailureDetails?.ErrorMessage,
        });
    }

    [Function(TaskNames.ArchiveExport)]
    public static Task<ArchiveExportResult> Orchestrate([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new ArchiveExportOrchestrator().RunAsync(context, context.GetInput<ArchiveExportState>()!);

    [Function(TaskNames.ExportArchivePage)]
    public static Task<ExportPageResult> ExportPage([ActivityTrigger] ExportPageInput input, FunctionContext context) =>
        context.InstanceServices.GetActivity<ExportArchivePageActivity>().RunAsync(new FunctionActivityContext(TaskNames.ExportArchivePage, input.ExportId), input);
}
