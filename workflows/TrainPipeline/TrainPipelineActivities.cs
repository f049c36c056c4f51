using Microsoft.DurableTask;
using Serverless.Access;
using Serverless.Models;
using Serverless.Sentinel;
using Serverless.Training;

namespace Serverless.Workflows.TrainPipeline;

/// <summary>
/// Trains a candidate with the training job (snapshot, training set with the serving encoder, ML.NET,
/// basic Sentinel, store, register) without publishing it. The model travels as a version id, never as bytes.
/// </summary>
public sealed class TrainCandidateActivity(TrainingJob training, SentinelAlerts alerts) : TaskActivity<TrainPipelineRequest, TrainedCandidate>
{
    public override async Task<TrainedCandidate> RunAsync(TaskActivityContext context, TrainPipelineRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var result = await training.RunAsync(new TrainingJobRequest(input.Trainer, null, Publish: false, FromLoggedFeatures: input.FromLoggedFeatures, VersionSuffix: input.VersionSuffix, RequestedBy: input.RequestedBy, RequestedByObjectId: input.RequestedByObjectId));
        if (!result.Sentinel.Passed)
        {
            await alerts.RaiseRejectedAsync(result.Sentinel, Source);
        }

        return new TrainedCandidate(result.Manifest.Version, result.Sentinel.Passed, result.Sentinel.ToString(), result.Manifest.Metrics);
    }

    /// <summary>Alerts raised by the pipeline name it as their source.</summary>
    public const string Source = "train-pipeline";
}

/// <summary>
/// The validation step: every Sentinel check on the candidate, the report stored with the version,
/// the verdict recorded in the registry (a failure rejects the candidate and names the checks).
/// </summary>
public sealed class ValidateCandidateActivity(CandidateValidator validator, ModelRegistry registry, SentinelAlerts alerts) : TaskActivity<string, ValidationOutcome>
{
    public override async Task<ValidationOutcome> RunAsync(TaskActivityContext context, string input)
    {
        var version = ModelVersion.Validate(input, nameof(input));
        var report = await validator.ValidateAsync(version);
        var failed = report.Failures.Select(f => f.Name).ToList();
        var summary = report.Passed
            ? $"passed {report.Checks.Count(c => !c.Skipped)} checks" + (report.Checks.Any(c => c.Skipped) ? $", skipped {string.Join(", ", report.Checks.Where(c => c.Skipped).Select(c => $"{c.Name} ({c.Explanation})"))}" : "")
            : string.Join("; ", report.Failures.Select(f => $"{f.Name}: {f.Measured} (needs {f.Threshold})"));
        var record = await registry.GetAsync(version);
        if (record is { Status: ModelStatus.Candidate })
        {
            await registry.RecordSentinelAsync(version, report.Passed, summary);
        }

        if (!report.Passed)
        {
            await alerts.RaiseRejectedAsync(report, TrainCandidateActivity.Source);
        }

        return new ValidationOutcome(version, report.Passed, summary, failed, report.Checks.Where(c => c.Skipped).Select(c => c.Name).ToList());
    }
}

/// <summary>
/// Marks the candidate Approved and points "live" at it, expecting whatever is live now (ETag-guarded).
/// Only a Candidate that passed the pipeline's Sentinel is published, never one rejected since: the
/// approval is written only while the version is still the Candidate it was checked as, and publishing
/// only takes an Approved version, so a rejection landing between any two steps wins. A version that
/// is not (or no longer) publishable is a <see cref="ModelStatusConflictException"/>, never retried.
/// </summary>
public sealed class PublishModelActivity(ModelRegistry registry) : TaskActivity<ModelDecision, PublishOutcome>
{
    public override async Task<PublishOutcome> RunAsync(TaskActivityContext context, ModelDecision input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var record = await registry.GetAsync(input.Version) ?? throw new ModelNotFoundException($"Model version '{input.Version}' is not registered.");
        if (record.Status == ModelStatus.Live)
        {
            // A retry after a publish that went through: done already.
            return new PublishOutcome(input.Version, (await registry.GetLiveAsync())?.Previous);
        }

        if (record.SentinelPassed != true || record.Status is not (ModelStatus.Candidate or ModelStatus.Approved))
        {
            throw new ModelStatusConflictException(
                $"Model version '{input.Version}' is {record.Status} (Sentinel {(record.SentinelPassed is { } p ? p ? "passed" : "failed" : "not run")}){(record.StatusReason is { } why ? ": " + why : "")}; only a Candidate that passed the Sentinel and awaits approval is published.");
        }

        if (record.Status != ModelStatus.Approved)
        {
            await registry.SetStatusAsync(input.Version, ModelStatus.Approved, input.Reason, input.By, input.ByObjectId, expected: record.Status);
        }

        var live = await registry.GetLiveAsync();
        try
        {
            var change = await registry.PublishAsync(input.Version, live?.Version, input.Reason);
            return new PublishOutcome(input.Version, change.From);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ModelAliasConflictException)
        {
            // Rejected after the approval was written and before the publish read it: the rejection stands.
            if (await registry.GetAsync(input.Version) is { Status: not (ModelStatus.Approved or ModelStatus.Live) } now)
            {
                throw new ModelStatusConflictException($"Model version '{input.Version}' became {now.Status} ({now.StatusReason ?? "no reason given"}) before it was published; nothing was published.", ex);
            }

            throw;
        }
    }
}

/// <summary>Marks the candidate Rejected with the reason (a person's, or the approval timeout) and raises the alert.</summary>
public sealed class RejectModelActivity(ModelRegistry registry, SentinelAlerts alerts) : TaskActivity<ModelDecision, bool>
{
    /// <summary>Who a rejection at the approval deadline is recorded as.</summary>
    public const string ApprovalDeadline = "approval deadline";

    public override async Task<bool> RunAsync(TaskActivityContext context, ModelDecision input)
    {
        ArgumentNullException.ThrowIfNull(input);
        await registry.SetStatusAsync(input.Version, ModelStatus.Rejected, input.Reason, input.By, input.ByObjectId);
        await alerts.RaiseAsync(input.By == ApprovalDeadline ? AlertKinds.CandidateExpired : AlertKinds.CandidateRejected,
            input.Version, null, input.Reason, TrainCandidateActivity.Source);
        return true;
    }
}
