using System.Text.Json.Serialization;
using Serverless.Models;

namespace Serverless.Workflows.TrainPipeline;

/// <summary>What to train and how long a person has to decide (zero: the default, <see cref="TrainPipelineRequest.DefaultApprovalTimeout"/>).</summary>
/// <param name="RequestedBy">Who started it: the signed-in person's name, else what the caller typed (or "anonymous").</param>
/// <param name="VersionSuffix">Set by the orchestrator (replay-safe), so two pipelines in the same second train distinct versions.</param>
/// <param name="RequestedByObjectId">The Entra object id of the signed-in person who started it; null when nobody signed in.</param>
public sealed record TrainPipelineRequest(TrainerKind Trainer, bool FromLoggedFeatures, TimeSpan ApprovalTimeout, string RequestedBy, string? VersionSuffix = null, string? RequestedByObjectId = null)
{
    public static readonly TimeSpan DefaultApprovalTimeout = TimeSpan.FromDays(3);
    public static readonly TimeSpan MinApprovalTimeout = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxApprovalTimeout = TimeSpan.FromDays(30);
    public const int MaxRequestedByLength = 200;

    /// <summary>
    /// The request as the pipeline runs it (a missing timeout gets the default), or the reason it
    /// cannot run. The orchestrator checks it itself: it can be started without the HTTP function.
    /// </summary>
    public static (TrainPipelineRequest? Request, string? Problem) Check(TrainPipelineRequest? input)
    {
        if (input is null)
        {
            return (null, "no input: a pipeline needs {trainer, fromLoggedFeatures, approvalTimeout, requestedBy}");
        }

        var timeout = input.ApprovalTimeout == TimeSpan.Zero ? DefaultApprovalTimeout : input.ApprovalTimeout;
        if (timeout < MinApprovalTimeout || timeout > MaxApprovalTimeout)
        {
            return (null, $"approvalTimeout must be {MinApprovalTimeout}..{MaxApprovalTimeout}, not {input.ApprovalTimeout}");
        }

        if (!Enum.IsDefined(input.Trainer))
        {
            return (null, $"trainer must be one of {string.Join(", ", Enum.GetNames<TrainerKind>())}");
        }

        if (string.IsNullOrWhiteSpace(input.RequestedBy) || input.RequestedBy.Length > MaxRequestedByLength)
        {
            return (null, $"requestedBy must be 1..{MaxRequestedByLength} characters");
        }

        return (input with { ApprovalTimeout = timeout }, null);
    }
}

/// <summary>A trained, stored and registered candidate with the offline Sentinel's verdict.</summary>
public sealed record TrainedCandidate(string Version, bool SentinelPassed, string Sentinel, IReadOnlyDictionary<string, double> Metrics);

/// <summary>A person's decision, raised as the external event <see cref="TrainPipelineOrchestrator.ApprovalEvent"/>.</summary>
/// <param name="By">The signed-in person's name (from the platform's client principal, never typed).</param>
/// <param name="ByObjectId">Their Entra object id.</param>
public sealed record ApprovalDecision(bool Approve, string By, string? Reason, bool TimedOut = false, string? ByObjectId = null);

/// <summary>A registry change for one version, with the reason recorded next to it (and who decided: name and object id).</summary>
public sealed record ModelDecision(string Version, string Reason, string? By = null, string? ByObjectId = null);

/// <summary>The pipeline's Sentinel verdict on a candidate; the full report is stored with the version (GET /api/models/{version}).</summary>
public sealed record ValidationOutcome(string Version, bool Passed, string Summary, IReadOnlyList<string> FailedChecks, IReadOnlyList<string> SkippedChecks);

/// <summary>What publishing did: the new live version and the one it replaced.</summary>
public sealed record PublishOutcome(string Version, string? Replaced);

/// <summary>How a pipeline ended (a name on the wire).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<PipelineOutcome>))]
public enum PipelineOutcome
{
    Published,
    RejectedBySentinel,
    RejectedByApprover,
    ApprovalTimedOut,
    InvalidInput,

    /// <summary>Approved, but rejected (or otherwise changed) before it was published: nothing went live.</summary>
    PublishRefused,
}

/// <summary>The pipeline's result: the candidate, how it ended, why, and what it replaced when published.</summary>
public sealed record TrainPipelineResult(string? Version, PipelineOutcome Outcome, string Reason, string? Replaced);

/// <summary>The custom status while the pipeline runs, for operators polling it.</summary>
public sealed record TrainPipelineStatus(string Stage, TrainedCandidate? Candidate, DateTime? ApprovalDeadline, ValidationOutcome? Validation = null);
