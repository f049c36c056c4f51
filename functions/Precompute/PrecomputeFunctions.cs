using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Functions.Http;
using Serverless.Precompute;
using Serverless.Workflows;
using Serverless.Workflows.Precompute;

namespace Serverless.Functions.Precompute;

/// <summary>The Hulk over HTTP: operators start and watch precomputes; clients look up what they published.</summary>
public sealed class PrecomputeFunctions(DerivedVersionRegistry registry, PrecomputedLookups lookups, DerivedDataCleanup cleanup, IOptions<PrecomputeOptions> options, TimeProvider time, ILogger<PrecomputeFunctions> logger)
{
    [Function("precompute-start")]
    public Task<IActionResult> Start(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "precompute/{dataset}")] HttpRequest req,
        string dataset,
        [DurableClient] DurableTaskClient client) =>
        Problems.Guard(req, async () =>
        {
            var start = (await JsonBody.ReadAsync(req, 4 * 1024, PrecomputeStartRequest.Empty))!.Validate(dataset, time.GetUtcNow(), req.OptionalPrincipal());
            var (id, request) = await PrecomputeInstances.StartAsync(client, registry, options.Value, start, req.HttpContext.RequestAborted);
            return new AcceptedResult($"/api/precompute/runs/{id}", new PrecomputeStarted(id, request.Dataset, request.AsOf, request.Partitions, request.Size));
        });

    /// <summary>
    /// On <c>Precompute__Schedule</c>: cleanup of old versions, then a precompute of each of
    /// <c>Precompute__ScheduledDatasets</c> as of now (one still running is refused and logged).
    /// </summary>
    [Function("precompute-scheduled")]
    public async Task Scheduled(
        [TimerTrigger("%Precompute__Schedule%")] TimerInfo timer,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        var result = await ScheduledPrecompute.RunAsync(client, registry, cleanup, options.Value, time.GetUtcNow(), cancellationToken);
        logger.LogInformation("Precompute timer: removed {Removed} old versions, started {Started}, refused {Refused}",
            result.Cleanup.Removed.Count, string.Join(", ", result.Started.Select(s => $"{s.Key} ({s.Value})")),
            result.Refused.Count == 0 ? "none" : string.Join("; ", result.Refused.Select(r => $"{r.Key}: {r.Value}")));
    }

    [Function("precompute-status")]
    public static Task<IActionResult> Status(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "precompute/runs/{id}")] HttpRequest req,
        string id,
        [DurableClient] DurableTaskClient client) =>
        Problems.Ok(req, () => PrecomputeInstances.StatusAsync(client, id, req.HttpContext.RequestAborted));

    /// <summary>A dataset's current version and every version with when it was current.</summary>
    [Function("precompute-versions")]
    public Task<IActionResult> Versions(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "precompute/{dataset}")] HttpRequest req,
        string dataset) =>
        Problems.Ok(req, () => PrecomputeInstances.VersionsAsync(registry, PrecomputeRequests.Versions(dataset, req.QueryParameters()), req.HttpContext.RequestAborted));

    [Function("titles-similar")]
    public Task<IActionResult> Similar(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "titles/{id}/similar")] HttpRequest req,
        string id) =>
        Problems.Ok(req, () => lookups.SimilarAsync(id, PrecomputeRequests.Count(req.QueryParameters()), req.HttpContext.RequestAborted));

    [Function("members-recommendations")]
    public Task<IActionResult> Recommendations(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "members/{id}/recommendations")] HttpRequest req,
        string id) =>
        Problems.Ok(req, () => lookups.RecommendationsAsync(id, PrecomputeRequests.Count(req.QueryParameters()), req.HttpContext.RequestAborted));

    [Function(TaskNames.Precompute)]
    public static Task<PrecomputeResult> Orchestrate([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new PrecomputeOrchestrator().RunAsync(context, context.GetInput<PrecomputeRequest>()!);

    [Function(TaskNames.BeginPrecompute)]
    public static Task<BeginPrecomputeResult> Begin([ActivityTrigger] BeginPrecomputeInput input, FunctionContext context) =>
        context.InstanceServices.GetActivity<BeginPrecomputeActivity>().RunAsync(new FunctionActivityContext(TaskNames.BeginPrecompute, input.Owner), input);

    [Function(TaskNames.PrepareInputs)]
    public static Task<string> Prepare([ActivityTrigger] PrepareInputsInput input, FunctionContext context) =>
        context.InstanceServices.GetActivity<PrepareInputsActivity>().RunAsync(new FunctionActivityContext(TaskNames.PrepareInputs, context.InvocationId), input);

    [Function(TaskNames.ComputePartition)]
    public static Task<PartitionCounts> Compute([ActivityTrigger] PartitionWork input, FunctionContext context) =>
        context.InstanceServices.GetActivity<ComputePartitionActivity>().RunAsync(new FunctionActivityContext(TaskNames.ComputePartition, context.InvocationId), input);

    [Function(TaskNames.PublishPrecompute)]
    public static Task<PublishPrecomputeResult> Publish([ActivityTrigger] PublishPrecomputeInput input, FunctionContext context) =>
        context.InstanceServices.GetActivity<PublishPrecomputeActivity>().RunAsync(new FunctionActivityContext(TaskNames.PublishPrecompute, input.Owner), input);

    [Function(TaskNames.FailPrecompute)]
    public static Task<bool> Fail([ActivityTrigger] FailPrecomputeInput input, FunctionContext context) =>
        context.InstanceServices.GetActivity<FailPrecomputeActivity>().RunAsync(new FunctionActivityContext(TaskNames.FailPrecompute, input.Owner), input);
}
