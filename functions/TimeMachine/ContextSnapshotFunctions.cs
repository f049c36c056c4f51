using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Options;
using Serverless.Features;
using Serverless.Functions.Http;
using Serverless.TimeMachine;
using Serverless.Workflows;
using Serverless.Workflows.TimeMachine;

namespace Serverless.Functions.TimeMachine;

/// <summary>The Snapshotter of chosen contexts over HTTP and on a daily timer; snapshots listed and read.</summary>
public sealed class ContextSnapshotFunctions(ContextSnapshotter snapshotter, FeatureEncoder encoder, IOptions<TimeMachineOptions> options, TimeProvider time)
{
    [Function("timemachine-snapshot-start")]
    public Task<IActionResult> Start(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "timemachine/snapshots")] HttpRequest req,
        [DurableClient] DurableTaskClient client) =>
        Problems.Guard(req, async () =>
        {
            var start = (await JsonBody.ReadAsync(req, 64 * 1024, SnapshotStartRequest.Empty))!.Validate(time.GetUtcNow(), options.Value, req.OptionalPrincipal());
            var request = await ContextSnapshotInstances.StartAsync(client, snapshotter, encoder.ConfigHash, start, req.HttpContext.RequestAborted);
            return new AcceptedResult($"/api/timemachine/snapshots/{request.Id}", ContextSnapshotStarted.Of(request));
        });

    [Function("timemachine-snapshot-list")]
    public async Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "timemachine/snapshots")] HttpRequest req) =>
        new OkObjectResult(new { snapshots = await snapshotter.ListAsync(req.HttpContext.RequestAborted) });

    /// <summary>A complete snapshot's manifest (200), a run under way or failed (202 / 200 with its status), or 404.</summary>
    [Function("timemachine-snapshot-get")]
    public Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "timemachine/snapshots/{id}")] HttpRequest req,
        string id,
        [DurableClient] DurableTaskClient client) =>
        Problems.Guard(req, async () =>
        {
            var state = await ContextSnapshotInstances.GetAsync(client, snapshotter, id, req.HttpContext.RequestAborted);
            return state.UnderWay ? new AcceptedResult($"/api/timemachine/snapshots/{id}", state) : new OkObjectResult(state);
        });

    /// <summary>
    /// Daily at 03:00 (UTC): a snapshot as of now, of the configured sample. (On the local host the
    /// timer scheduler runs a timer at most once per its interval of real time, however fast the
    /// replay clock moves.)
    /// </summary>
    [Function("timemachine-snapshot-daily")]
    public Task Daily([TimerTrigger("0 0 3 * * *")] TimerInfo timer, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken) =>
        ContextSnapshotInstances.StartScheduledAsync(client, snapshotter, options.Value, encoder.ConfigHash, time.GetUtcNow(), cancellationToken);

    [Function(TaskNames.ContextSnapshot)]
    public static Task<ContextSnapshotResult> Orchestrate([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new ContextSnapshotOrchestrator().RunAsync(context, context.GetInput<ContextSnapshotRequest>()!);

    [Function(TaskNames.PlanContextSnapshot)]
    public static Task<SnapshotPlanSummary> Plan([ActivityTrigger] ContextSnapshotRequest input, FunctionContext context) =>
        context.InstanceServices.GetActivity<PlanContextSnapshotActivity>().RunAsync(new FunctionActivityContext(TaskNames.PlanContextSnapshot, input.Id), input);

    [Function(TaskNames.CaptureSnapshotPartition)]
    public static Task<SnapshotPart> CapturePartition([ActivityTrigger] CaptureSnapshotPartitionInput input, FunctionContext context) =>
        context.InstanceServices.GetActivity<CaptureSnapshotPartitionActivity>().RunAsync(new FunctionActivityContext(TaskNames.CaptureSnapshotPartition, input.Id), input);

    [Function(TaskNames.CaptureSnapshotCatalog)]
    public static Task<SnapshotCatalogPart> CaptureCatalog([ActivityTrigger] CaptureSnapshotCatalogInput input, FunctionContext context) =>
        context.InstanceServices.GetActivity<CaptureSnapshotCatalogActivity>().RunAsync(new FunctionActivityContext(TaskNames.CaptureSnapshotCatalog, input.Id), input);

    [Function(TaskNames.CompleteContextSnapshot)]
    public static Task<ContextSnapshotManifest> Complete([ActivityTrigger] CompleteSnapshotInput input, FunctionContext context) =>
        context.InstanceServices.GetActivity<CompleteContextSnapshotActivity>().RunAsync(new FunctionActivityContext(TaskNames.CompleteContextSnapshot, input.Request.Id), input);
}
