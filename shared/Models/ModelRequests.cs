using Serverless.Access;
using Serverless.Requests;

namespace Serverless.Models;

/// <summary>Body of POST /api/models/rollback. Who rolls back is the signed-in person, never a typed name.</summary>
/// <param name="ExpectedLive">The version the caller expects to be live (409 when it is not).</param>
/// <param name="Reason">Why (at most <see cref="MaxReasonLength"/> characters).</param>
public sealed record RollbackRequest(string? ExpectedLive, string? Reason)
{
    public const int MaxReasonLength = 1000;

    public static RollbackRequest Empty { get; } = new(null, null);

    /// <summary>The request checked: a 400 refusal naming the field otherwise.</summary>
    public RollbackRequest Validate()
    {
        if (Reason is { Length: > MaxReasonLength })
        {
            throw RequestRefusedException.BadRequest($"reason may hold at most {MaxReasonLength} characters");
        }

        if (ExpectedLive is not null)
        {
            ModelRequests.Version(ExpectedLive, "expectedLive");
        }

        return this;
    }

    /// <summary>The reason recorded in the registry.</summary>
    public string ReasonBy(OperatorIdentity by)
    {
        ArgumentNullException.ThrowIfNull(by);
        return $"rolled back by {by.Name}" + (Reason is { Length: > 0 } r ? $": {r}" : "");
    }
}

/// <summary>Body of POST /api/pipelines/train/{id}/approval: the decision and why. Who decides is the signed-in person.</summary>
public sealed record ApprovalRequest(bool? Approve, string? Reason)
{
    public const int MaxReasonLength = 1000;

    public static ApprovalRequest Empty { get; } = new(null, null);

    /// <summary>The decision checked: <c>approve</c> is required, the reason bounded; a 400 refusal otherwise.</summary>
    public (bool Approve, string? Reason) Validate()
    {
        if (Approve is not { } approve)
        {
            throw RequestRefusedException.BadRequest("a body {\"approve\": true|false, \"reason\"?: \"why\" (at most 1000 characters)} is required; who decides is the signed-in person");
        }

        return Reason is { Length: > MaxReasonLength }
            ? throw RequestRefusedException.BadRequest($"reason may hold at most {MaxReasonLength} characters")
            : (approve, Reason);
    }
}

/// <summary>The model routes' parameters.</summary>
public static class ModelRequests
{
    /// <summary>GET /api/models and GET /api/models/{version} take no query parameters: any is a 400 refusal naming it.</summary>
    public static void NoParameters(RequestQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Allow();
    }

    /// <summary>A version named in a route or body: a 400 refusal unless it is a valid version id.</summary>
    public static string Version(string? version, string field = "version") =>
        version is not null && ModelVersion.IsValid(version)
            ? version
            : throw RequestRefusedException.BadRequest($"{field} must be 1-{ModelVersion.MaxLength} characters of A-Z, a-z, 0-9, '.', '_' or '-'");
}
