using System.Globalization;
using Serverless.Facts;
using Serverless.Requests;

namespace Serverless.Archive;

/// <summary>
/// Reads the archive's HTTP query strings into queries. Every parameter is checked (identifiers,
/// times, numbers, unknown or repeated parameters) and errors come back as messages for a 400.
/// </summary>
public static class ArchiveRequests
{
    private static readonly HashSet<string> HistoryParameters = new(StringComparer.OrdinalIgnoreCase) { "limit", "asOf" };
    private static readonly HashSet<string> CatalogParameters = new(StringComparer.OrdinalIgnoreCase) { "asOf" };
    private static readonly HashSet<string> BatchParameters = new(StringComparer.OrdinalIgnoreCase)
    {
        "member", "title", "kind", "from", "to", "asOf", "includeSuperseded", "pageSize", "continuation",
    };

    public static (string Member, int Limit, DateTimeOffset? AsOf) History(string member, RequestQuery query, ArchiveOptions options)
    {
        CheckParameters(query, HistoryParameters);
        RequireKey("member", member);
        var limit = Int(query, "limit") ?? 50;
        if (limit < 1 || limit > options.LiveMaxLimit)
        {
            throw new ArchiveQueryException($"limit must be 1..{options.LiveMaxLimit}");
        }

        return (member, limit, Time(query, "asOf"));
    }

    private static readonly HashSet<string> DeadLetterParameters = new(StringComparer.OrdinalIgnoreCase) { "source", "limit" };

    /// <summary>Which dead letters to read: source "facts" (default) or "feature-log", limit 1..1000 (default 100).</summary>
    public static (string Source, int Limit) DeadLetters(RequestQuery query)
    {
        CheckParameters(query, DeadLetterParameters);
        var source = Single(query, "source") ?? Events.Hubs.Facts;
        if (source is not (Events.Hubs.Facts or Events.Hubs.FeatureLog))
        {
            throw new ArchiveQueryException($"source must be {Events.Hubs.Facts} or {Events.Hubs.FeatureLog}");
        }

        var limit = Int(query, "limit") ?? 100;
        return limit is < 1 or > 1000 ? throw new ArchiveQueryException("limit must be 1..1000") : (source, limit);
    }

    public static (string Title, DateTimeOffset? AsOf) Catalog(string title, RequestQuery query)
    {
        CheckParameters(query, CatalogParameters);
        RequireKey("title", title);
        return (title, Time(query, "asOf"));
    }

    public static BatchQuery Batch(RequestQuery query, ArchiveOptions options)
    {
        CheckParameters(query, BatchParameters);
        var member = Single(query, "member");
        var title = Single(query, "title");
        if (member is not null) { RequireKey("member", member); }
        if (title is not null) { RequireKey("title", title); }
        if (member is not null && title is not null)
        {
            throw new ArchiveQueryException("give member or title, not both");
        }

        FactKind? kind = Single(query, "kind") switch
        {
            null => null,
            "rating" => FactKind.Rating,
            "catalog" => FactKind.Catalog,
            "retraction" => FactKind.Retraction,
            var other => throw new ArchiveQueryException($"kind '{Cut(other)}' is not rating, catalog or retraction"),
        };
        var from = Time(query, "from");
        var to = Time(query, "to");
        if (from is not null && to is not null && from >= to)
        {
            throw new ArchiveQueryException("from must be before to");
        }

        var pageSize = Int(query, "pageSize") ?? options.BatchMaxPageSize;
        if (pageSize < 1 || pageSize > options.BatchMaxPageSize)
        {
            throw new ArchiveQueryException($"pageSize must be 1..{options.BatchMaxPageSize}");
        }

        var includeSuperseded = Single(query, "includeSuperseded") switch
        {
            null or "false" => false,
            "true" => true,
            var other => throw new ArchiveQueryException($"includeSuperseded must be true or false, not '{Cut(other)}'"),
        };
        return new BatchQuery(member, title, kind, from, to, Time(query, "asOf"), includeSuperseded, pageSize, Single(query, "continuation"));
    }

    public static void RequireKey(string field, string value)
    {
        if (FactValidator.KeyError(field, value, FactValidator.MaxKeyLength, required: true) is { } error)
        {
            throw new ArchiveQueryException(error);
        }
    }

    private static void CheckParameters(RequestQuery query, HashSet<string> allowed)
    {
        foreach (var key in query.Names)
        {
            if (!allowed.Contains(key))
            {
                throw new ArchiveQueryException($"unknown query parameter '{Cut(key)}' (allowed: {string.Join(", ", allowed)})");
            }
        }
    }

    private static string? Single(RequestQuery query, string name)
    {
        try
        {
            return query.Single(name);
        }
        catch (RequestRefusedException ex) when (ex is not ArchiveQueryException)
        {
            throw new ArchiveQueryException(ex.Message);
        }
    }

    private static int? Int(RequestQuery query, string name) =>
        Single(query, name) is { } s
            ? int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw new ArchiveQueryException($"{name} must be a whole number")
            : null;

    /// <summary>ISO 8601 with an offset (e.g. 2018-09-01T00:00:00Z) or Unix seconds.</summary>
    public static DateTimeOffset? Time(RequestQuery query, string name)
    {
        if (Single(query, name) is not { } s)
        {
            return null;
        }

        if (long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds <= 253402300799)
        {
            return DateTimeOffset.FromUnixTimeSeconds(seconds);
        }

        if (s.Length <= 40 && (s.EndsWith('Z') || s.Contains('+') || s.LastIndexOf('-') > 9)
            && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
            && t.Year is >= 1900 and <= 9000)
        {
            return t.ToUniversalTime();
        }

        throw new ArchiveQueryException($"{name} must be ISO 8601 with an offset (e.g. 2018-09-01T00:00:00Z) or Unix seconds");
    }

    private static string Cut(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
