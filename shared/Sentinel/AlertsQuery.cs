using Serverless.Models;
using Serverless.Requests;

namespace Serverless.Sentinel;

/// <summary>Query of GET /api/alerts: <c>limit</c> (1..500, default 100), <c>version</c>, <c>kind</c>.</summary>
public sealed record AlertsQuery(int Limit, string? Version, string? Kind)
{
    public const int DefaultLimit = 100;

    /// <summary>The query checked; a 400 refusal naming the parameter otherwise.</summary>
    public static AlertsQuery From(RequestQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Allow("limit", "version", "kind");
        var limit = query.Int("limit", 1, SentinelAlerts.MaxList, DefaultLimit);
        var version = query.Single("version") is { Length: > 0 } v ? ModelRequests.Version(v) : null;
        var kind = query.Single("kind") is { Length: > 0 } k ? k : null;
        if (kind is not null && !AlertKinds.All.Contains(kind, StringComparer.Ordinal))
        {
            throw RequestRefusedException.BadRequest($"kind must be one of {string.Join(", ", AlertKinds.All)}");
        }

        return new AlertsQuery(limit, version, kind);
    }
}
