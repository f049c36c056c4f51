using System.Text.Json.Serialization;
using Serverless.Models;

namespace Serverless.Workflows.TrainPipeline;

/// <summary>What to train and how long a person has to decide.</summary>
public sealed record TrainPipelineRequest(TrainerKind Trainer, bool FromLoggedFeatures, TimeSpan ApprovalTimeout, string RequestedBy);

/// <summary>A trained, stored and registered candidate with the offline Sentinel's verdict.</summary>
public sealed record TrainedCandidate(string Version, bool SentinelPassed, string Sentinel, IReadOnlyDictionary<string, double> Metrics);

/// <summary>A person's decision, raised as the external event <see cref="TrainPipelineOrchestrator.ApprovalEvent"/>.</summary>
public sealed record ApprovalDecision(bool Approve, string By, string? Reason, bool TimedOut = false);

/// <summary>A registry change for one version, with the reason recorded next to it.</summary>
public sealed record ModelDecision(string Version, string Reason);

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
}

/// <summary>The pipeline's result: the candidate, how it ended, why, and what it replaced when published.</summary>
public sealed record TrainPipelineResult(string Version, PipelineOutcome Outcome, string Reason, string? Replaced);

/// <summary>The custom status while the pipeline runs, for operators polling it.</summary>
public sealed record TrainPipelineStatus(string Stage, TrainedCandidate? Candidate, DateTime? ApprovalDeadline);
