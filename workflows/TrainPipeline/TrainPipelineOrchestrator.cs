using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;

namespace Serverless.Workflows.TrainPipeline;

/// <summary>
/// Train -> Sentinel -> approval gate -> publish. The candidate is trained from the archive (or from
/// logged features), stored, registered and checked by the Sentinel in one activity. A failed
/// Sentinel rejects it at once. Otherwise a person approves or rejects it through the external event
/// <see cref="ApprovalEvent"/>; no decision before the deadline rejects it (see
/// <see cref="ApprovalDeadlines"/>). Approval publishes it as live (ETag-guarded against whatever is
/// live at that moment).
/// </summary>
public sealed class TrainPipelineOrchestrator : TaskOrchestrator<TrainPipelineRequest, TrainPipelineResult>
{
    public const string ApprovalEvent = "approval";
    public const string StageTraining = "training";
    public const string StageAwaitingApproval = "awaiting-approval";
    public const string StagePublishing = "publishing";

    private static readonly TaskOptions RegistryRetry = TaskOptions.FromRetryPolicy(new RetryPolicy(
        maxNumberOfAttempts: 5, firstRetryInterval: TimeSpan.FromSeconds(1), backoffCoefficient: 2, maxRetryInterval: TimeSpan.FromSeconds(30)));

    public override async Task<TrainPipelineResult> RunAsync(TaskOrchestrationContext context, TrainPipelineRequest input)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(input);
        var log = context.CreateReplaySafeLogger<TrainPipelineOrchestrator>();
        context.SetCustomStatus(new TrainPipelineStatus(StageTraining, null, null));
        var candidate = await context.CallActivityAsync<TrainedCandidate>(TaskNames.TrainCandidate, input);

        if (!candidate.SentinelPassed)
        {
            // The training activity already recorded the Sentinel's rejection in the registry.
            log.LogWarning("Pipeline {Id}: Sentinel refused {Version}: {Sentinel}", context.InstanceId, candidate.Version, candidate.Sentinel);
            return new TrainPipelineResult(candidate.Version, PipelineOutcome.RejectedBySentinel, candidate.Sentinel, null);
        }

        var deadline = context.CurrentUtcDateTime + input.ApprovalTimeout;
        context.SetCustomStatus(new TrainPipelineStatus(StageAwaitingApproval, candidate, deadline));

        // The deadline is enforced by ApprovalDeadlines (a timer function raising a timed-out decision),
        // not by a durable timer racing the event: the in-process backend loses events raised while a
        // timer is pending (microsoft/durabletask-dotnet#713), and both runtimes run this same code.
        var decision = await context.WaitForExternalEvent<ApprovalDecision>(ApprovalEvent);
        if (decision.TimedOut || context.CurrentUtcDateTime > deadline)
        {
            var reason = decision.TimedOut ? $"no decision within {input.ApprovalTimeout}" : $"{decision.By} decided after the deadline ({input.ApprovalTimeout})";
            await context.CallActivityAsync(TaskNames.RejectModel, new ModelDecision(candidate.Version, "approval timed out: " + reason), RegistryRetry);
            return new TrainPipelineResult(candidate.Version, PipelineOutcome.ApprovalTimedOut, reason, null);
        }

        var why = $"{(decision.Approve ? "approved" : "rejected")} by {decision.By}" + (decision.Reason is { Length: > 0 } r ? $": {r}" : "");
        if (!decision.Approve)
        {
            await context.CallActivityAsync(TaskNames.RejectModel, new ModelDecision(candidate.Version, why), RegistryRetry);
            return new TrainPipelineResult(candidate.Version, PipelineOutcome.RejectedByApprover, why, null);
        }

        context.SetCustomStatus(new TrainPipelineStatus(StagePublishing, candidate, null));
        var published = await context.CallActivityAsync<PublishOutcome>(TaskNames.PublishModel, new ModelDecision(candidate.Version, why), RegistryRetry);
        log.LogInformation("Pipeline {Id}: {Version} is live (replaced {Replaced}), {Why}", context.InstanceId, published.Version, published.Replaced ?? "(none)", why);
        return new TrainPipelineResult(candidate.Version, PipelineOutcome.Published, why, published.Replaced);
    }
}
