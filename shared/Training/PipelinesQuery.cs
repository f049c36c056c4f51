using Serverless.Requests;

namespace Serverless.Training;

/// <summary>
/// Query of GET /api/pipelines: <c>status</c> (<c>awaiting-approval</c>, <c>running</c>,
/// <c>completed</c>, <c>failed</c> or <c>all</c>, the default) and <c>limit</c> (1..500, default 100).
/// </summary>
public sealed record PipelinesQuery(string Status, int Limit)
{
    /// <summary>Running, at the approval gate (the pipeline's stage of that name).</summary>
    public const string AwaitingApproval = "awaiting-approval";

    /// <summary>Pending or running, any stage.</summary>
    public const string Running = "running";

    public const string Completed = "completed";

    /// <summary>Failed or terminated.</summary>
    public const string Failed = "failed";

    public const string All = "all";
    public const int DefaultLimit = 100;
    public const int MaxLimit = 500;

    /// <summary>The status filters a caller may name.</summary>
    public static IReadOnlyList<string> Filters { get; } = [AwaitingApproval, Running, Completed, Failed, All];

    /// <summary>The filter, or null when <paramref name="status"/> is not one of <see cref="Filters"/> (absent or empty: <see cref="All"/>).</summary>
    public static string? ParseFilter(string? status) =>
        string.IsNullOrEmpty(status) ? All : Filters.FirstOrDefault(f => string.Equals(f, status, StringComparison.Ordinal));

    /// <summary>The query checked: a 400 refusal naming the parameter and what it may be otherwise.</summary>
    public static PipelinesQuery From(RequestQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Allow("status", "limit");
        var status = (query.Occurrences("status") > 1 ? null : ParseFilter(query.Single("status")))
            ?? throw RequestRefusedException.BadRequest($"status must be one of {string.Join(", ", Filters)} (given once)");
        return new PipelinesQuery(status, query.Int("limit", 1, MaxLimit, DefaultLimit));
    }
}
