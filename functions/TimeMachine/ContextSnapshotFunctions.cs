using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Options;
using Serverless.Features;
using Serverless.Functions.Http;
using Serverless.Requests;
using Serverless.TimeMachine;
using Serverless.Workflows;
using Serverless.Workflows.TimeMachine;

namespace Serverless.Functions.TimeMachine;

/// <summary>The Snapshotter of chosen contexts over HTTP and on a daily timer; snapshots listed and read.</summary>
public sealed class ContextSnapshotFunctions(ContextSnapshotter snapshotter, FeatureEncoder encoder, IOptions<TimeMachineOptions> options, TimeProvider time)
{
    /// <summary>Body of POST /api/timemachine/snapshots (all optional: T = now, the configured sample).</summary>
    public sealed record StartBody(DateTimeOffset? AsOf, double? SampleRate, int? Seed, int? Strata, string[]? Members, string? RequestedBy);

    [Function("timemachine-snapshot-start")]
    public Task<IActionResult> Start(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "timemachine/snapshots")] HttpRequest req,
        [DurableClient] DurableTaskClient client) =>
        Problems.Guard(req, async () =>
        {
            var body = (await JsonBody.ReadAsync(req, 64 * 1024, new StartBody(null, null, null, null, null, null)))!;
            var request = await ContextSnapshotInstances.StartAsync(client, snapshotter, options.Value, encoder.ConfigHash, time.GetUtcNow(),
                body.AsOf, body.SampleRate, body.Seed, body.Strata, body.Members, req.OptionalPrincipal()?.Name ?? body.RequestedBy, req.HttpContext.RequestAborted);
            return new AcceptedResult($"/api/timemachine/snapshots/{request.Id}", new { id = request.Id, request.AsOf, sample = request.Sample.Describe() });
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
            if (!ContextSnapshotIds.IsValid(id))
            {
                throw RequestRefusedException.BadRequest("id must be a snapshot id (ctx-<yyyyMMddTHHmmss + 7 digits>-<12 hex>)");
            }

            if (await snapshotter.GetManifestAsync(id, req.HttpContext.RequestAborted) is { } manifest)
            {
                return (IActionResult)new OkObjectResult(new { id, status = "Complete", manifest, summary = manifest.Summary() });
            }

            var state = await DurableInstances.FindAsync(client, req, id, TaskNames.ContextSnapshot, "context snapshot");
            var result = state.RuntimeStatus == OrchestrationRuntimeStatus.Completed ? state.ReadOutputAs<ContextSnapshotResult>() : null;
            var body = new { id, status = result?.Outcome.ToString() ?? state.RuntimeStatus.ToString(), result, failure = state.FailureDetails?.ErrorMessage };
            return state.RuntimeStatus is OrchestrationRuntimeStatus.Running or OrchestrationRuntimeStatus.Pending
                ? new AcceptedResult($"/api/timemachine/snapshots/{id}", body)
                : new OkObjectResult(body);
        });

    /// <summary>
    /// Daily at 03:00 (UTC): a snapshot as of now, of the configured sample. (On the local host the
    /// timer scheduler runs a timer at most once per its interval of real time, however fast the
    /// replay clock moves.)
    /// </summary>
    [Function("timemachine-snapshot-daily")]
    public async Task Daily([TimerTrigger("0 0 3 * * *")] TimerInfo timer, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var at = new DateTimeOffset(now.UtcTicks - now.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
        try
        {
            await ContextSnapshotInstances.StartAsync(client, snapshotter, options.Value, encoder.ConfigHash, now, at, null, null, null, null, "timer", cancellationToken);
        }
        catch (SnapshotRefusedException ex) when (ex.Status == 409)
        {
            // Already taken or running (a timer fired twice): one snapshot, not two.
        }
    }

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
