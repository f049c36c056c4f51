using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using Serverless.Facts;

namespace Serverless.Archive;

/// <summary>A batch query: facts by event-time range and/or member or title, as known at <see cref="AsOf"/>.</summary>
public sealed record BatchQuery(
    string? Member,
    string? Title,
    FactKind? Kind,
    DateTimeOffset? From,
    DateTimeOffset? To,
    DateTimeOffset? AsOf,
    bool IncludeSuperseded,
    int PageSize,
    string? Continuation);

/// <summary>One page of a batch query. <see cref="AsOf"/> is the knowledge time all its pages share.</summary>
public sealed record FactPage(IReadOnlyList<ArchivedFact> Facts, string? Continuation, DateTimeOffset AsOf);

/// <summary>The query was refused: a bad parameter or token (maps to 400).</summary>
public sealed class ArchiveQueryException(string message) : Serverless.Requests.RequestRefusedException(400, message);

/// <summary>The archive's live history interface: what serving reads (a seam for tests of its callers).</summary>
public interface ILiveHistory
{
    /// <summary>Newest-first history of a member as known at <paramref name="asOf"/> (default now): current versions, no retractions.</summary>
    Task<IReadOnlyList<ArchivedFact>> HistoryAsync(string member, int limit, DateTimeOffset? asOf = null, CancellationToken cancellationToken = default);
}

/// <summary>How live history reads were answered: by the recent-history entity, or by the fact rows (and how many entities reads built).</summary>
public sealed record LiveReadCounts(long FromRecent, long FromFactRows, long Backfilled);

/// <summary>
/// The read side of the Online Archive.
/// Live interface: a member's recent history (one point read of the member's
/// <see cref="RecentHistory"/> entity; the fact rows when it cannot answer) and a title's current
/// catalog entry, unthrottled.
/// Batch interface: paged, as-of queries for offline jobs, behind <see cref="BatchThrottle"/> so
/// batch load cannot starve live reads.
/// </summary>
public sealed class ArchiveReader(ArchiveTables tables, BatchThrottle throttle, TimeProvider time, ArchiveOptions options, ILogger<ArchiveReader>? logger = null) : ILiveHistory
{
    private readonly byte[] tokenKey = options.ContinuationKeyBytes;
    private const string RetractionKind = "retraction";
    private long fromRecent;
    private long fromFactRows;
    private long backfilled;

    public LiveReadCounts LiveCounts() => new(Interlocked.Read(ref fromRecent), Interlocked.Read(ref fromFactRows), Interlocked.Read(ref backfilled));

    /// <summary>
    /// Newest-first history of a member as known at <paramref name="asOf"/> (default now): current
    /// versions, no retractions. One point read of the member's recent-history entity answers it
    /// when the entity can answer exactly (see <see cref="RecentHistory.TryRead"/>); otherwise the
    /// fact rows do (<see cref="HistoryFromFactRowsAsync"/>). A member with fact rows but no entity
    /// (archived before entities existed) gets one built from its rows here, once.
    /// </summary>
    /// <summary>
    /// A member's current facts with event time at or after <paramref name="from"/> as known at
    /// <paramref name="at"/>, newest first, from the recent-history entity alone (one point read),
    /// or null when the entity does not hold all of them (a member with more recent facts than it
    /// keeps, or none yet): then the batch interface answers. For near-line jobs over a recent
    /// window (the label join), which would otherwise make one throttled batch query per member.
    /// </summary>
    public async Task<IReadOnlyList<ArchivedFact>?> RecentSinceAsync(string member, DateTimeOffset from, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        var recent = await tables.Recent.ReadAsync(FactPartition.ForMember(member), cancellationToken);
        if (recent is null || !recent.TryRead(at, recent.Facts.Count, out var facts))
        {
            return null;
        }

        // Held newest first: an incomplete entity holds every fact newer than its oldest one.
        var covers = recent.Complete || recent.Facts[^1].Fact.EventTime < from;
        return covers ? facts.Where(f => f.Fact.EventTime >= from).ToList() : null;
    }

    public async Task<IReadOnlyList<ArchivedFact>> HistoryAsync(string member, int limit, DateTimeOffset? asOf = null, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        AsOfRule.Check(asOf, now);
        var at = asOf ?? now;
        var partition = FactPartition.ForMember(member);
        var recent = await tables.Recent.ReadAsync(partition, cancellationToken);
        if (recent is not null)
        {
            if (recent.TryRead(at, limit, out var facts))
            {
                Interlocked.Increment(ref fromRecent);
                return facts;
            }

            Interlocked.Increment(ref fromFactRows);
            return await HistoryFromFactRowsAsync(member, limit, at, cancellationToken);
        }

        // No entity (or one of a format this code does not know): a member without facts, or one
        // archived before entities existed. Read the rows, answer from them and build the entity once.
        Interlocked.Increment(ref fromFactRows);
        var rows = await tables.Recent.FactRowsAsync(partition, cancellationToken);
        if (rows.Count > 0 && await tables.Recent.TryAddBuiltAsync(partition, rows, cancellationToken))
        {
            Interlocked.Increment(ref backfilled);
            logger?.LogInformation("Built the recent history of {Partition} from its {Rows} fact rows on a live read (it had none)", partition, rows.Count);
        }

        return TakeAsOf(rows, limit, at);
    }

    /// <summary>
    /// The fact-row query's answer from a partition's rows (row-key order: newest first): at most
    /// <paramref name="limit"/> rows ingested by <paramref name="at"/>, not superseded then, happened by then, no retraction.
    /// </summary>
    private static List<ArchivedFact> TakeAsOf(List<ArchivedFact> rows, int limit, DateTimeOffset at)
    {
        var result = new List<ArchivedFact>(Math.Min(Math.Max(limit, 0), rows.Count));
        foreach (var row in rows)
        {
            if (result.Count >= limit)
            {
                break;
            }

            if (InLiveReadAsOf(row, at))
            {
                result.Add(row);
            }
        }

        return result;
    }

    /// <summary>Whether a fact row belongs to the live read as of <paramref name="at"/>: current then (ingested, not superseded, no retraction) and happened by then.</summary>
    private static bool InLiveReadAsOf(ArchivedFact row, DateTimeOffset at) => row.IsCurrentAsOf(at) && row.Fact.EventTime <= at;

    /// <summary>
    /// A member's history as of each of <paramref name="asOfs"/>: for each, exactly what
    /// <see cref="HistoryAsync"/> answers, for at most one point read of the member's recent-history
    /// entity and, when the entity cannot answer some of them (as of moments before a correction, or
    /// more facts than it holds), one read of the member's fact rows that answers all of those in
    /// memory, instead of a partition query per moment. For offline jobs that recompute many requests
    /// of one member (the skew meter). Reads nothing when <paramref name="asOfs"/> is empty.
    /// </summary>
    public async Task<IReadOnlyList<IReadOnlyList<ArchivedFact>>> HistoriesAsync(string member, int limit, IReadOnlyList<DateTimeOffset> asOfs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(asOfs);
        var now = time.GetUtcNow();
        foreach (var at in asOfs)
        {
            AsOfRule.Check(at, now);
        }

        var result = new IReadOnlyList<ArchivedFact>[asOfs.Count];
        if (asOfs.Count == 0)
        {
            return result;
        }

        var partition = FactPartition.ForMember(member);
        var recent = await tables.Recent.ReadAsync(partition, cancellationToken);
        var missing = new List<int>();
        for (var i = 0; i < asOfs.Count; i++)
        {
            if (recent is not null && recent.TryRead(asOfs[i], limit, out var facts))
            {
                Interlocked.Increment(ref fromRecent);
                result[i] = facts;
            }
            else
            {
                missing.Add(i);
            }
        }

        if (missing.Count == 0)
        {
            return result;
        }

        // Every row of the partition once (row-key order: newest first), each missing moment answered
        // from them with the fact-row query's filter: ingested by then, not superseded then, happened by then, no retraction.
        Interlocked.Add(ref fromFactRows, missing.Count);
        var rows = await tables.Recent.FactRowsAsync(partition, cancellationToken);
        foreach (var i in missing)
        {
            result[i] = TakeAsOf(rows, limit, asOfs[i]);
        }

        return result;
    }

    /// <summary>
    /// The same history read from the fact rows (a partition query): the truth the recent-history
    /// entity is made from, and what answers reads it cannot (as of the past, or more facts than it holds).
    /// </summary>
    public async Task<IReadOnlyList<ArchivedFact>> HistoryFromFactRowsAsync(string member, int limit, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {FactPartition.ForMember(member)} and RowKey lt {RecentHistory.FactRowKeyBound} and IngestTime le {FilterTimes.Later(at)} and SupersededAt gt {FilterTimes.Earlier(at)} and EventTime le {FilterTimes.Later(at)} and Kind ne {RetractionKind}");
        return await TakeAsync(filter, limit, row => InLiveReadAsOf(row, at), cancellationToken);
    }

    /// <summary>The newest catalog entry of a title as known at <paramref name="asOf"/> (default now), or null.</summary>
    public async Task<ArchivedFact?> CatalogEntryAsync(string title, DateTimeOffset? asOf = null, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow();
        AsOfRule.Check(asOf, now);
        var at = asOf ?? now;
        var (from, to) = FactRows.TitleRange(title);
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {FactPartition.Catalog} and RowKey ge {from} and RowKey lt {to} and Kind eq {"catalog"} and IngestTime le {FilterTimes.Later(at)} and SupersededAt gt {FilterTimes.Earlier(at)} and EventTime le {FilterTimes.Later(at)}");
        var rows = await TakeAsync(filter, 1, row => InLiveReadAsOf(row, at), cancellationToken);
        return rows.Count > 0 ? rows[0] : null;
    }

    /// <summary>The first <paramref name="limit"/> rows of <paramref name="filter"/> (row-key order) that also pass <paramref name="exact"/>.</summary>
    private async Task<IReadOnlyList<ArchivedFact>> TakeAsync(string filter, int limit, Func<ArchivedFact, bool> exact, CancellationToken cancellationToken)
    {
        var result = new List<ArchivedFact>(Math.Min(limit, 256));
        await foreach (var page in tables.Facts.QueryAsync<TableEntity>(filter, maxPerPage: limit, cancellationToken: cancellationToken).AsPages())
        {
            foreach (var entity in page.Values)
            {
                var row = FactRows.FromEntity(entity);
                if (!exact(row))
                {
                    continue;
                }

                result.Add(row);
                if (result.Count == limit)
                {
                    return result;
                }
            }
        }

        return result;
    }

    /// <summary>Storage queries one batch page may make (a page may hold fewer than pageSize facts; go on while a continuation comes back).</summary>
    public const int MaxQueriesPerPage = 32;

    /// <summary>
    /// One page of a batch query, read partition by partition (a member's partition, the catalog's
    /// for catalog entries, or every partition from the index in key order), never as a table scan. Each storage query takes a
    /// batch permit. Throws <see cref="ArchiveThrottledException"/> when batch capacity is used up.
    /// </summary>
    public async Task<FactPage> BatchAsync(BatchQuery query, CancellationToken cancellationToken = default)
    {
        var fingerprint = PageToken.FingerprintOf(query.Member, query.Title, query.Kind, query.From, query.To, query.IncludeSuperseded, query.PageSize);
        var now = time.GetUtcNow();
        AsOfRule.Check(query.AsOf, now);
        var asOf = query.AsOf ?? now;
        // One partition: a member's; or the catalog's for catalog entries (they have no member, so they are all there).
        var single = query.Member is { } m ? FactPartition.ForMember(m) : query.Kind == FactKind.Catalog ? FactPartition.Catalog : null;
        string? partition;
        string? inner = null;
        if (query.Continuation is { } encoded)
        {
            if (!PageToken.TryDecode(encoded, tokenKey, out var token, out var error))
            {
                throw new ArchiveQueryException(error!);
            }

            if (token!.Fingerprint != fingerprint || (single is not null && token.Partition != single))
            {
                throw new ArchiveQueryException("continuation token belongs to a different query");
            }

            if (query.AsOf is { } given && given.UtcTicks != token.AsOf.UtcTicks)
            {
                throw new ArchiveQueryException("continuation token was issued for a different asOf");
            }

            asOf = token.AsOf;
            partition = token.Partition;
            inner = token.Inner;
        }
        else
        {
            var first = single is null ? await tables.Partitions.ListAsync(null, 1, cancellationToken) : [];
            partition = single ?? (first.Count > 0 ? first[0] : null);
        }

        var filter = BatchFilter(query, asOf);
        var facts = new List<ArchivedFact>(query.PageSize);
        var upcoming = new Queue<string>();
        for (var queries = 0; partition is not null && facts.Count < query.PageSize && queries < MaxQueriesPerPage; queries++)
        {
            Page<TableEntity> page;
            using (await throttle.EnterAsync(cancellationToken))
            {
                try
                {
                    var wanted = query.PageSize - facts.Count;
                    page = await tables.Facts.QueryAsync<TableEntity>(
                            TableClient.CreateQueryFilter($"PartitionKey eq {partition}") + " and " + filter, maxPerPage: wanted, cancellationToken: cancellationToken)
                        .AsPages(inner, wanted)
                        .FirstAsync(cancellationToken);
                }
                catch (RequestFailedException ex) when (inner is not null && ex.Status is 400 or 404)
                {
                    throw new ArchiveQueryException("continuation token is not valid for this archive");
                }
            }

            facts.AddRange(page.Values.Select(FactRows.FromEntity).Where(row => BatchMatches(query, asOf, row)));
            inner = page.ContinuationToken;
            if (inner is null)
            {
                if (single is not null)
                {
                    partition = null;
                }
                else
                {
                    if (upcoming.Count == 0)
                    {
                        foreach (var next in await tables.Partitions.ListAsync(partition, 64, cancellationToken))
                        {
                            upcoming.Enqueue(next);
                        }
                    }

                    partition = upcoming.TryDequeue(out var following) ? following : null;
                }
            }
        }

        var continuation = partition is null ? null : new PageToken(partition, inner, fingerprint, asOf).Encode(tokenKey);
        return new FactPage(facts, continuation, asOf);
    }

    /// <summary>How long an offline job waits in total for batch capacity before it gives up.</summary>
    public static readonly TimeSpan OfflineMaxThrottleWait = TimeSpan.FromMinutes(10);

    /// <summary>The first pause after a refusal when the throttle names none (doubles after each, up to 5 s).</summary>
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// One page of a batch query for an offline job (training, label joins, exports): they are the
    /// batch load the throttle exists for, so when batch capacity is used up they back off and try
    /// again (the throttle's Retry-After, at least an exponential backoff from 50 ms up to 5 s)
    /// instead of failing, for at most <paramref name="maxWait"/> in total (default
    /// <see cref="OfflineMaxThrottleWait"/>); after that a <see cref="TimeoutException"/> says so.
    /// A page is retried from the same continuation, so a retry reads nothing twice.
    /// </summary>
    public async Task<FactPage> BatchPatientlyAsync(BatchQuery query, TimeSpan? maxWait = null, CancellationToken cancellationToken = default)
    {
        var budget = maxWait ?? OfflineMaxThrottleWait;
        var waited = TimeSpan.Zero;
        var backoff = FirstBackoff;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await BatchAsync(query, cancellationToken);
            }
            catch (ArchiveThrottledException ex)
            {
                var pause = ex.RetryAfter > backoff ? ex.RetryAfter : backoff;
                if (waited + pause > budget)
                {
                    throw new TimeoutException(
                        $"the archive's batch interface stayed busy: waited {waited.TotalSeconds:0.0} s over {attempt} attempts, and the next wait would pass the limit of {budget.TotalSeconds:0.0} s", ex);
                }

                if (attempt == 1)
                {
                    logger?.LogInformation("Batch capacity of the archive is used up; the offline read waits its turn (up to {Limit})", budget);
                }

                // Real time: the throttle's token bucket refills in real time, whatever clock the app follows.
                await Task.Delay(pause, cancellationToken);
                waited += pause;
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }

    /// <summary>Every page of a batch query (offline jobs: each storage query still takes a batch permit; a throttled page waits its turn, see <see cref="BatchPatientlyAsync"/>).</summary>
    public Task<List<ArchivedFact>> ReadAllAsync(BatchQuery query, CancellationToken cancellationToken = default) =>
        ReadAllAsync(query, null, cancellationToken);

    /// <summary>Every page of a batch query; after each page, reports how many facts were read so far.</summary>
    public Task<List<ArchivedFact>> ReadAllAsync(BatchQuery query, IProgress<long>? factsRead, CancellationToken cancellationToken = default) =>
        ReadAllAsync(query, factsRead, null, cancellationToken);

    /// <summary>Every page of a batch query, waiting at most <paramref name="maxThrottleWait"/> in total for batch capacity.</summary>
    public async Task<List<ArchivedFact>> ReadAllAsync(BatchQuery query, IProgress<long>? factsRead, TimeSpan? maxThrottleWait, CancellationToken cancellationToken = default)
    {
        var facts = new List<ArchivedFact>();
        var page = query;
        while (true)
        {
            var result = await BatchPatientlyAsync(page, maxThrottleWait, cancellationToken);
            facts.AddRange(result.Facts);
            factsRead?.Report(facts.Count);
            if (result.Continuation is null)
            {
                return facts;
            }

            page = page with { Continuation = result.Continuation };
        }
    }

    private static string BatchFilter(BatchQuery q, DateTimeOffset asOf)
    {
        // Fact rows only: never a member's recent-history entity (its key sorts after every fact row's).
        var parts = new List<string> { TableClient.CreateQueryFilter($"RowKey lt {RecentHistory.FactRowKeyBound} and IngestTime le {FilterTimes.Later(asOf)}") };
        if (q.Title is { } title)
        {
            parts.Add(TableClient.CreateQueryFilter($"Title eq {title}"));
        }

        if (q.Kind is { } kind)
        {
            parts.Add(TableClient.CreateQueryFilter($"Kind eq {FactJson.KindName(kind)}"));
        }

        if (q.From is { } from)
        {
            parts.Add(TableClient.CreateQueryFilter($"EventTime ge {FilterTimes.Earlier(from)}"));
        }

        if (q.To is { } to)
        {
            parts.Add(TableClient.CreateQueryFilter($"EventTime lt {FilterTimes.Later(to)}"));
        }

        if (!q.IncludeSuperseded)
        {
            parts.Add(TableClient.CreateQueryFilter($"SupersededAt gt {FilterTimes.Earlier(asOf)} and Kind ne {RetractionKind}"));
        }

        return string.Join(" and ", parts);
    }

    /// <summary>The exact rule of <see cref="BatchFilter"/> for one row (storage was sent it widened by <see cref="FilterTimes.Margin"/>).</summary>
    private static bool BatchMatches(BatchQuery q, DateTimeOffset asOf, ArchivedFact row) =>
        row.Fact.IngestTime <= asOf
        && (q.From is not { } from || row.Fact.EventTime >= from)
        && (q.To is not { } to || row.Fact.EventTime < to)
        && (q.IncludeSuperseded || row.IsCurrentAsOf(asOf));
}
