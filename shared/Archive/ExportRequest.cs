using Serverless.Facts;

namespace Serverless.Archive;

/// <summary>
/// Body of POST /api/archive/exports (all optional; no body exports everything known now): one
/// member's facts or all, an event-time range <c>[from, to)</c>, the knowledge time <c>asOf</c>
/// (default now, fixed for the whole export) and the page size.
/// </summary>
public sealed record ExportRequest(string? Member, DateTimeOffset? From, DateTimeOffset? To, DateTimeOffset? AsOf, int? PageSize)
{
    public static ExportRequest Everything { get; } = new(null, null, null, null, null);

    /// <summary>The export with its defaults filled in; a 400 refusal (<see cref="ArchiveQueryException"/>) naming the field otherwise.</summary>
    public (string? Member, DateTimeOffset? From, DateTimeOffset? To, DateTimeOffset AsOf, int PageSize) Validate(DateTimeOffset now, int maxPageSize)
    {
        if (Member is { } member)
        {
            ArchiveRequests.RequireKey("member", member);
        }

        if (From is { } from && To is { } to && from >= to)
        {
            throw new ArchiveQueryException("from must be before to");
        }

        AsOfRule.Check(AsOf, now);
        var pageSize = PageSize ?? maxPageSize;
        return pageSize < 1 || pageSize > maxPageSize
            ? throw new ArchiveQueryException($"pageSize must be 1..{maxPageSize}")
            : (Member, From, To, AsOf ?? now, pageSize);
    }
}
