using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Serverless.Archive;
using Serverless.Functions.Http;
using Serverless.Workflows;
using Serverless.Workflows.ArchiveExport;

namespace Serverless.Functions.Archive;

/// <summary>Operators start and watch archive exports (durable, paged, throttled).</summary>
public sealed class ArchiveExportFunctions(ArchiveOptions options, TimeProvider time)
{
    [Function("archive-export-start")]
    public Task<IActionResult> Start(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "archive/exports")] HttpRequest req,
        [DurableClient] DurableTaskClient client) =>
        Problems.Guard(req, async () =>
        {
            var body = (await JsonBody.ReadAsync(req, 16 * 1024, ExportRequest.Everything))!;
            var started = await ArchiveExportInstances.StartAsync(client, body, time.GetUtcNow(), options.BatchMaxPageSize, req.HttpContext.RequestAborted);
            return new AcceptedResult($"/api/archive/exports/{started.Id}", started);
        });

    [Function("archive-export-status")]
    public static Task<IActionResult> Status(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "archive/exports/{id}")] HttpRequest req,
        string id,
        [DurableClient] DurableTaskClient client) =>
        Problems.Ok(req, () => ArchiveExportInstances.StatusAsync(client, id, req.HttpContext.RequestAborted));

    [Function(TaskNames.ArchiveExport)]
    public static Task<ArchiveExportResult> Orchestrate([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new ArchiveExportOrchestrator().RunAsync(context, context.GetInput<ArchiveExportState>()!);

    [Function(TaskNames.ExportArchivePage)]
    public static Task<ExportPageResult> ExportPage([ActivityTrigger] ExportPageInput input, FunctionContext context) =>
        context.InstanceServices.GetActivity<ExportArchivePageActivity>().RunAsync(new FunctionActivityContext(TaskNames.ExportArchivePage, input.ExportId), input);
}
