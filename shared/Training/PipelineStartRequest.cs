using Serverless.Models;
using Serverless.Requests;

namespace Serverless.Training;

/// <summary>
/// Body of POST /api/pipelines/train (all optional): the trainer (LightGbm by default), whether to
/// train on the Lumberjack's labelled logs, how long a person has to decide (1 s..30 days, default
/// 3 days) and who asked (the signed-in person when there is one, else this name, else "anonymous").
/// </summary>
public sealed record PipelineStartRequest(TrainerKind? Trainer, bool? FromLoggedFeatures, TimeSpan? ApprovalTimeout, string? RequestedBy)
{
    public static readonly TimeSpan DefaultApprovalTimeout = TimeSpan.FromDays(3);
    public static readonly TimeSpan MinApprovalTimeout = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxApprovalTimeout = TimeSpan.FromDays(30);
    public const int MaxRequestedByLength = 200;

    public static PipelineStartRequest Empty { get; } = new(null, null, null, null);

    /// <summary>The request with its defaults filled in; a 400 refusal naming the field otherwise.</summary>
    public (TrainerKind Trainer, bool FromLoggedFeatures, TimeSpan ApprovalTimeout, string RequestedBy) Validate(string? signedIn = null)
    {
        var timeout = ApprovalTimeout ?? DefaultApprovalTimeout;
        if (timeout < MinApprovalTimeout || timeout > MaxApprovalTimeout)
        {
            throw RequestRefusedException.BadRequest($"approvalTimeout must be {MinApprovalTimeout}..{MaxApprovalTimeout}");
        }

        var trainer = Trainer ?? TrainerKind.LightGbm;
        if (!Enum.IsDefined(trainer))
        {
            throw RequestRefusedException.BadRequest($"trainer must be one of {string.Join(", ", Enum.GetNames<TrainerKind>())}");
        }

        if (RequestedBy is { Length: > MaxRequestedByLength })
        {
            throw RequestRefusedException.BadRequest($"requestedBy may hold at most {MaxRequestedByLength} characters");
        }

        return (trainer, FromLoggedFeatures ?? false, timeout, signedIn ?? (string.IsNullOrWhiteSpace(RequestedBy) ? "anonymous" : RequestedBy));
    }
}
