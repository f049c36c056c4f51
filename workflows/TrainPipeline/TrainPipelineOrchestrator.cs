using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;

namespace Serverless.Workflows.TrainPipeline;

/// <summary>
/// Train -> validate (the Sentinel) -> approval gate -> publish. The candidate is trained from the
/// archive (or from logged features), stored and registered; the validation step runs every
/// Sentinel check and stores the report with the version. A failed Sentinel rejects it at once.
/// Otherwise the pipeline waits for the external event <see cref="ApprovalEvent"/> raced with a
/// durable timer at the deadline (<c>Task.WhenAny</c>, then the timer is cancelled): the pattern
/// Durable Functions documents; the deadline passing rejects. Approval publishes it as live
/// (ETag-guarded against whatever is live at that moment); a version rejected meanwhile is not published
/// and the pipeline ends <see cref="PipelineOutcome.PublishRefused"/>. The custom status always shows
/// the stage, and the end state once it ended.
/// </summary>
public sealed class TrainPipelineOrchestrator : TaskOrchestrator<TrainPipelineRequest?, TrainPipelineResult>
{
    public const string ApprovalEvent = "approval";
    public const string StageTraining = "training";
    public const string StageValidating = "validating";
    public const string StageAwaitingApproval = "awaiting-approval";
    public const string StagePublishing = "publishing";
    public const string StagePublished = "published";
    public const string StageRejected = "rejected";
    public const string StageInvalidInput = "invalid-input";

    private static readonly TaskOptions RegistryRetry = TaskOptions.FromRetryPolicy(new RetryPolicy(
        maxNumberOfAttempts: 5, firstRetryInterval: TimeSpan.FromSeconds(1), backoffCoefficient: 2, maxRetryInterval: TimeSpan.FromSeconds(30)));

    /// <summary>Publishing retries storage faults and a lost ETag race, never a version that is not publishable (rejected meanwhile).</summary>
    private static readonly TaskOptions PublishRetry = TaskOptions.FromRetryPolicy(new RetryPolicy(
        maxNumberOfAttempts: 5, firstRetryInterval: TimeSpan.FromSeconds(1), backoffCoefficient: 2, maxRetryInterval: TimeSpan.FromSeconds(30))
    {
        HandleFailure = failure => StatusConflict(failure) is null,
    });

    /// <summary>The failure (or a failure it wraps, as a Functions host may) that is a <see cref="Serverless.Models.ModelStatusConflictException"/>, if any.</summary>
    private static TaskFailureDetails? StatusConflict(TaskFailureDetails? failure) =>
        failure is null || failure.IsCausedBy<Serverless.Models.ModelStatusConflictException>() ? failure : StatusConflict(failure.InnerFailure);

    public override async Task<TrainPipelineResult> RunAsync(TaskOrchestrationContext context, TrainPipelineRequest? input)
    {
        ArgumentNullException.ThrowIfNull(context);
        var log = context.CreateReplaySafeLogger<TrainPipelineOrchestrator>();
        var (request, problem) = TrainPipelineRequest.Check(input);
        if (request is null)
        {
            log.LogWarning("Pipeline {Id}: invalid input, nothing trained: {Problem}", context.InstanceId, problem);
            context.SetCustomStatus(new TrainPipelineStatus(StageInvalidInput, null, null));
            return new TrainPipelineResult(null, PipelineOutcome.InvalidInput, problem!, null);
        }

        request = request with { VersionSuffix = context.NewGuid().ToString("N")[..8] };
        context.SetCustomStatus(new TrainPipelineStatus(StageTraining, null, null));
        var candidate = await context.CallActivityAsync<TrainedCandidate>(TaskNames.TrainCandidate, request);
        if (!candidate.SentinelPassed)
        {
            // The training activity already recorded the basic Sentinel's rejection in the registry.
            log.LogWarning("Pipeline {Id}: Sentinel refused {Version}: {Sentinel}", context.InstanceId, candidate.Version, candidate.Sentinel);
            context.SetCustomStatus(new TrainPipelineStatus(StageRejected, candidate, null));
            return new TrainPipelineResult(candidate.Version, PipelineOutcome.RejectedBySentinel, candidate.Sentinel, null);
        }

        context.SetCustomStatus(new TrainPipelineStatus(StageValidating, candidate, null));
        var validation = await context.CallActivityAsync<ValidationOutcome>(TaskNames.ValidateCandidate, candidate.Version);
        candidate = candidate with { SentinelPassed = validation.Passed, Sentinel = validation.Summary };
        if (!validation.Passed)
        {
            log.LogWarning("Pipeline {Id}: Sentinel refused {Version}: {Failed}", context.InstanceId, candidate.Version, string.Join(", ", validation.FailedChecks));
            context.SetCustomStatus(new TrainPipelineStatus(StageRejected, candidate, null, validation));
            return new TrainPipelineResult(candidate.Version, PipelineOutcome.RejectedBySentinel, validation.Summary, null);
        }

        var deadline = context.CurrentUtcDateTime + request.ApprovalTimeout;
        context.SetCustomStatus(new TrainPipelineStatus(StageAwaitingApproval, candidate, deadline, validation));
        using var cancelTimer = new CancellationTokenSource();
        var timer = context.CreateTimer(deadline, cancelTimer.Token);
        var decided = context.WaitForExternalEvent<ApprovalDecision>(ApprovalEvent);
        if (await Task.WhenAny(decided, timer) != decided)
        {
            var reason = $"no decision within {request.ApprovalTimeout}";
            context.SetCustomStatus(new TrainPipelineStatus(StageRejected, candidate, deadline, validation));
            await context.CallActivityAsync(TaskNames.RejectModel, new ModelDecision(candidate.Version, "approval timed out: " + reason, RejectModelActivity.ApprovalDeadline), RegistryRetry);
            return new TrainPipelineResult(candidate.Version, PipelineOutcome.ApprovalTimedOut, reason, null);
        }

        // The decision came first: cancel the timer, or the instance lingers until the deadline.
        // Synchronously, on the orchestrator's thread: CancelAsync would run the timer's cancellation off it.
#pragma warning disable CA1849 // the orchestrator must stay on its own thread
        cancelTimer.Cancel();
#pragma warning restore CA1849
        var decision = decided.Result;
        var why = $"{(decision.Approve ? "approved" : "rejected")} by {decision.By}" + (decision.Reason is { Length: > 0 } r ? $": {r}" : "");
        if (!decision.Approve)
        {
            context.SetCustomStatus(new TrainPipelineStatus(StageRejected, candidate, null, validation));
            await context.CallActivityAsync(TaskNames.RejectModel, new ModelDecision(candidate.Version, why, decision.By, decision.ByObjectId), RegistryRetry);
            return new TrainPipelineResult(candidate.Version, PipelineOutcome.RejectedByApprover, why, null);
        }

        context.SetCustomStatus(new TrainPipelineStatus(StagePublishing, candidate, null, validation));
        PublishOutcome published;
        try
        {
            published = await context.CallActivityAsync<PublishOutcome>(TaskNames.PublishModel, new ModelDecision(candidate.Version, why, decision.By, decision.ByObjectId), PublishRetry);
        }
        catch (TaskFailedException ex) when (StatusConflict(ex.FailureDetails) is { } conflict)
        {
            // Rejected (or otherwise changed) between the approval and the publish: the rejection wins, nothing went live.
            log.LogWarning("Pipeline {Id}: {Version} was approved but not published: {Reason}", context.InstanceId, candidate.Version, conflict.ErrorMessage);
            context.SetCustomStatus(new TrainPipelineStatus(StageRejected, candidate, null, validation));
            return new TrainPipelineResult(candidate.Version, PipelineOutcome.PublishRefused, conflict.ErrorMessage, null);
        }

        log.LogInformation("Pipeline {Id}: {Version} is live (replaced {Replaced}), {Why}", context.InstanceId, published.Version, published.Replaced ?? "(none)", why);
        context.SetCustomStatus(new TrainPipelineStatus(StagePublished, candidate, null, validation));
        return new TrainPipelineResult(candidate.Version, PipelineOutcome.Published, why, published.Replaced);
    }
}
