using System.Net;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using Serverless.Events;
using Serverless.Facts;

namespace Serverless.Archive;

/// <summary>What one ingested batch did.</summary>
public sealed record IngestResult(int Stored, int Duplicates, int Corrections, int DeadLettered)
{
    public int Received => Stored + Duplicates + Corrections + DeadLettered;
}

/// <summary>
/// The write side of the Online Archive. Ingestion is idempotent: a fact's row key comes from its
/// payload (event time + id), rows are inserted (never overwritten), and a redelivered or duplicated
/// fact hits the existing row and changes nothing. Bad events go to the dead-letter table with their
/// reason; the rest of the batch is stored. A member's rows are written in one entity-group
/// transaction with the member's <see cref="RecentHistory"/> entity (ETag-guarded), which the
/// live interface reads instead of the rows.
/// </summary>
public sealed class FactArchive(
    ArchiveTables tables,
    FactValidator validator,
    ArchiveOptions options,
    TimeProvider time,
    ILogger<FactArchive> logger)
{
    /// <summary>Bytes of recent-history entities kept after writing them (the next write of the member starts from it).</summary>
    private const long KeptRecentBytes = 32L << 20;

    private readonly RecentWrites written = new(KeptRecentBytes);
    private readonly IdentityWrites identities = new(KeptRecentBytes / 16);

    public async Task<IngestResult> IngestAsync(IReadOnlyList<IncomingEvent> events, CancellationToken cancellationToken = default)
    {
        var facts = new List<Fact>(events.Count);
        var sources = new Dictionary<string, IncomingEvent>(StringComparer.Ordinal);
        var rejected = new List<(DeadLetter, string)>();
        var duplicates = 0;
        foreach (var e in events)
        {
            var parsed = validator.Parse(e.Body.Span, e.EnqueuedTime);
            if (parsed.Fact is not { } fact)
            {
                rejected.Add(Reject(e, parsed.Error!));
            }
            else if (sources.TryGetValue(fact.Id, out var firstEvent))
            {
                // One id, one fact: an exact resend inside the batch is a duplicate, other content under the id is refused.
                var first = facts.First(f => f.Id == fact.Id);
                if (FactIdentity.Hash(first) == FactIdentity.Hash(fact)) { duplicates++; }
                else { rejected.Add(Reject(e, FactIdentity.Reused(fact, first))); }
            }
            else
            {
                facts.Add(fact);
                sources[fact.Id] = e;
            }
        }

        // Originals first, then corrections in arrival order: a correction may supersede a fact of the same batch.
        var originals = facts.Where(f => f.Supersedes is null).ToList();
        var corrections = facts.Where(f => f.Supersedes is not null).ToList();

        // Register partitions first: a fact is never stored in a partition the batch interface cannot find.
        var created = await tables.Partitions.RegisterAsync(facts.Select(f => f.PartitionKey), cancellationToken);

        // Every partition's rows go in with their identity rows; a member's also with the member's recent-history entity.
        var stored = 0;
        var refused = new System.Collections.Concurrent.ConcurrentBag<(Fact Fact, string Reason)>();
        await Parallel.ForEachAsync(
            originals.GroupBy(f => f.PartitionKey, StringComparer.Ordinal),
            new ParallelOptions { MaxDegreeOfParallelism = options.IngestParallelism, CancellationToken = cancellationToken },
            async (partition, ct) => Interlocked.Add(ref stored, await AddToPartitionAsync(partition.Key, partition.ToList(), created.Contains(partition.Key), refused, ct)));
        foreach (var (fact, reason) in refused)
        {
            rejected.Add(Reject(sources[fact.Id], reason));
        }

        duplicates += originals.Count - stored - refused.Count;

        // The journal gets every version the archive now holds from this batch: stored or already stored with this content.
        var refusedIds = refused.Select(r => r.Fact.Id).ToHashSet(StringComparer.Ordinal);
        var journaled = originals.Where(f => !refusedIds.Contains(f.Id)).ToList();
        var applied = 0;
        foreach (var byPartition in corrections.GroupBy(f => f.PartitionKey))
        {
            foreach (var correction in byPartition)
            {
                var outcome = await ApplyCorrectionAsync(correction, cancellationToken);
                switch (outcome)
                {
                    case CorrectionOutcome.AppliedOutcome: applied++; journaled.Add(correction); break;
                    case CorrectionOutcome.AlreadyAppliedOutcome: duplicates++; journaled.Add(correction); break;
                    case CorrectionOutcome.Rejected(var reason):
                        rejected.Add(Reject(sources[correction.Id], reason));
                        break;
                }
            }
        }

        // After the rows: a batch that fails before its file lands is delivered again, and its facts (then duplicates) land then.
        await tables.Journal.LandAsync(journaled, time.GetUtcNow(), cancellationToken);

        if (rejected.Count > 0)
        {
            await tables.DeadLetters.WriteAsync(rejected, cancellationToken);
            logger.LogWarning("Dead-lettered {Count} of {Total} fact events; first reason: {Reason}", rejected.Count, events.Count, rejected[0].Item1.Reason);
        }

        return new IngestResult(stored, duplicates, applied, rejected.Count);
    }

    private (DeadLetter, string) Reject(IncomingEvent e, string reason) => DeadLetterStore.Letter(Hubs.Facts, e, reason, time.GetUtcNow());

    private abstract record CorrectionOutcome
    {
        public static readonly CorrectionOutcome Applied = new AppliedOutcome();
        public static readonly CorrectionOutcome AlreadyApplied = new AlreadyAppliedOutcome();

        public sealed record AppliedOutcome : CorrectionOutcome;
        public sealed record AlreadyAppliedOutcome : CorrectionOutcome;
        public sealed record Rejected(string Reason) : CorrectionOutcome;
    }

    /// <summary>Fact rows (each with its identity row) in one transaction of a partition without a member's entities (a transaction holds at most 100 actions).</summary>
    public const int MaxFactsPerTransaction = 49;

    /// <summary>Fact rows in one transaction of a member's partition, with its recent-history and identities entities.</summary>
    public const int MaxMemberFactsPerTransaction = 98;

    /// <summary>Attempts of one transaction that keeps conflicting (another writer of the partition) before the batch fails and is redelivered.</summary>
    private const int MaxAttempts = 8;

    /// <summary>
    /// Adds a partition's new rows, up to 49 per transaction, each with its identity row and, in a
    /// member's partition, with the member's recent-history entity (ETag-guarded; added when the
    /// member has none). Facts already stored with the same content are left as they are (those the
    /// entity holds are skipped before writing; others make the transaction fail, are looked up and
    /// skipped); facts whose id is stored with other content are added to <paramref name="refused"/>.
    /// Returns how many rows were new. A partition this batch <paramref name="created"/> (registered
    /// in the index just now) has no rows and no entity yet: its first transaction adds the entity
    /// without reading first.
    /// </summary>
    private async Task<int> AddToPartitionAsync(
        string partition, IReadOnlyList<Fact> facts, bool created, System.Collections.Concurrent.ConcurrentBag<(Fact, string)> refused, CancellationToken cancellationToken)
    {
        var added = 0;
        foreach (var chunk in facts.Chunk(RecentHistory.Applies(partition) ? MaxMemberFactsPerTransaction : MaxFactsPerTransaction))
        {
            added += await AddChunkAsync(partition, chunk, created && added == 0, refused, cancellationToken);
        }

        return added;
    }

    private async Task<int> AddChunkAsync(
        string partition, Fact[] chunk, bool created, System.Collections.Concurrent.ConcurrentBag<(Fact, string)> refused, CancellationToken cancellationToken)
    {
        var keepsRecent = RecentHistory.Applies(partition);
        var settled = new HashSet<string>(StringComparer.Ordinal);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var start = !keepsRecent ? null : created && attempt == 0 ? RecentHistory.Empty(tables.Recent.Cap) : await StartRecentAsync(partition, cancellationToken);
            var ids = !keepsRecent ? null : created && attempt == 0 ? MemberIdentities.Empty : await StartIdentitiesAsync(partition, cancellationToken);
            var rows = new List<Fact>(chunk.Length);
            foreach (var fact in chunk)
            {
                if (settled.Contains(fact.Id))
                {
                    continue;
                }

                if (start?.Held(FactRows.RowKey(fact)) is { } held)
                {
                    // Stored under the same key (same id and event time): a duplicate, or the id re-used for another value.
                    settled.Add(fact.Id);
                    if (FactIdentity.Hash(held) != FactIdentity.Hash(fact))
                    {
                        refused.Add((fact, FactIdentity.Reused(fact, held)));
                    }

                    continue;
                }

                if (ids is not null && ids.TryGet(fact.Id, out var stored))
                {
                    // The id is stored (any event time): a duplicate, or the id re-used for another value.
                    settled.Add(fact.Id);
                    if (stored != MemberIdentities.ContentHash(fact))
                    {
                        refused.Add((fact, FactIdentity.Reused(fact, await tables.Recent.StoredAsync(partition, fact.Id, cancellationToken))));
                    }

                    continue;
                }

                rows.Add(fact);
            }

            if (rows.Count == 0)
            {
                return 0;
            }

            // A member's identities go in its identities entity (one action per transaction); others, or a member past its size, get an identity row per fact.
            var packedIds = ids is not null && ids.HasRoom;
            if (!packedIds && rows.Count > MaxFactsPerTransaction)
            {
                // A member past its identities entity's size: identity rows, so two transactions of at most 49 facts.
                return await AddChunkAsync(partition, rows.Take(MaxFactsPerTransaction).ToArray(), false, refused, cancellationToken)
                    + await AddChunkAsync(partition, rows.Skip(MaxFactsPerTransaction).ToArray(), false, refused, cancellationToken);
            }

            var actions = new List<TableTransactionAction>(rows.Count * 2 + 2);
            foreach (var f in rows)
            {
                actions.Add(new TableTransactionAction(TableTransactionActionType.Add, FactRows.ToEntity(f)));
                if (!packedIds)
                {
                    actions.Add(new TableTransactionAction(TableTransactionActionType.Add, FactIdentity.ToEntity(f)));
                }
            }

            try
            {
                if (start is null)
                {
                    await tables.Facts.SubmitTransactionAsync(actions, cancellationToken);
                }
                else
                {
                    var next = await start.ApplyAsync(rows, null, null, tables.Recent.Cap, tables.Recent.CurrentAfter(partition), cancellationToken);
                    var nextIds = packedIds ? ids!.With(rows) : null;
                    if (nextIds is not null)
                    {
                        actions.Add(ids!.Write(partition, nextIds));
                    }

                    actions.Add(RecentHistoryStore.Write(partition, start, next));
                    await SubmitAsync(partition, actions, next, nextIds, cancellationToken);
                }

                return rows.Count;
            }
            catch (TableTransactionFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
            {
                // Ids already stored (a redelivery, or an id re-used), or another writer added the entity: see which, then again.
                await SettleStoredAsync(partition, rows, settled, refused, cancellationToken);
            }
            catch (TableTransactionFailedException ex) when (ex.Status == (int)HttpStatusCode.PreconditionFailed)
            {
                // Another writer changed the member meanwhile: read the entity again.
            }
        }

        throw new InvalidOperationException($"adding facts to {partition} kept conflicting; the batch will be redelivered");
    }

    /// <summary>
    /// Marks as settled the facts whose id is stored: the same content is a duplicate; other content
    /// is refused. A fact row stored without an identity row (archived before identity rows existed) counts as a duplicate.
    /// </summary>
    private async Task SettleStoredAsync(
        string partition, List<Fact> rows, HashSet<string> settled, System.Collections.Concurrent.ConcurrentBag<(Fact, string)> refused, CancellationToken cancellationToken)
    {
        var identities = await tables.Recent.IdentitiesAsync(partition, rows.Select(f => f.Id).ToList(), cancellationToken);
        foreach (var fact in rows)
        {
            if (identities.TryGetValue(fact.Id, out var hash))
            {
                settled.Add(fact.Id);
                if (hash != FactIdentity.Hash(fact))
                {
                    refused.Add((fact, FactIdentity.Reused(fact, await tables.Recent.StoredAsync(partition, fact.Id, cancellationToken))));
                }
            }
        }

        var unknown = rows.Where(f => !settled.Contains(f.Id)).ToList();
        var legacy = await tables.Recent.ExistingAsync(partition, unknown.Select(FactRows.RowKey).ToList(), cancellationToken);
        foreach (var fact in unknown.Where(f => legacy.Contains(FactRows.RowKey(f))))
        {
            settled.Add(fact.Id);
        }
    }

    /// <summary>
    /// Submits a transaction whose last action writes the member's entity <paramref name="next"/>,
    /// and keeps it with the ETag the write returned. A failed one forgets what was kept: the next
    /// attempt reads the entity.
    /// </summary>
    private async Task SubmitAsync(string partition, List<TableTransactionAction> actions, RecentHistory next, MemberIdentities? nextIds, CancellationToken cancellationToken)
    {
        try
        {
            var response = await tables.Facts.SubmitTransactionAsync(actions, cancellationToken);
            var complete = response.Value.Count == actions.Count;
            written.Keep(partition, next, complete ? response.Value[^1].Headers.ETag : null);
            if (nextIds is not null)
            {
                identities.Keep(partition, complete && response.Value[^2].Headers.ETag is { } etag ? nextIds.WithETag(etag) : null);
            }
        }
        catch
        {
            written.Forget(partition);
            identities.Keep(partition, null);
            throw;
        }
    }

    /// <summary>
    /// The member's identities entity to write from: the one this instance wrote last, the stored
    /// one, or one built from the partition's fact rows (a member stored before these entities existed).
    /// </summary>
    private async Task<MemberIdentities> StartIdentitiesAsync(string partition, CancellationToken cancellationToken)
    {
        if (identities.Find(partition) is { } kept)
        {
            return kept;
        }

        var response = await tables.Facts.GetEntityIfExistsAsync<TableEntity>(partition, MemberIdentities.RowKey, cancellationToken: cancellationToken);
        if (response.HasValue)
        {
            return MemberIdentities.FromEntity(response.Value!);
        }

        var rows = await tables.Recent.FactRowsAsync(partition, cancellationToken);
        return MemberIdentities.FromFacts(rows.Select(r => r.Fact));
    }

    /// <summary>
    /// The member's recent-history entity to write from: the one this instance wrote last, or the
    /// stored one (built from the fact rows the first time a member written before it existed is touched).
    /// </summary>
    private async Task<RecentHistory> StartRecentAsync(string partition, CancellationToken cancellationToken)
    {
        if (written.Find(partition) is { } kept)
        {
            return kept;
        }

        var start = await tables.Recent.ReadForWriteAsync(partition, cancellationToken);
        if (start.BuiltFromRows is > 0 and var rows)
        {
            logger.LogInformation("Built the recent history of {Partition} from its {Rows} fact rows (it had none)", partition, rows);
        }

        return start.History;
    }

    /// <summary>
    /// Stores a correction and marks the version it supersedes, atomically (one partition, one
    /// transaction, guarded by the target's ETag and, in a member's partition, with the member's
    /// recent-history entity, guarded by its own).
    /// </summary>
    private async Task<CorrectionOutcome> ApplyCorrectionAsync(Fact correction, CancellationToken cancellationToken)
    {
        var partition = correction.PartitionKey;
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            TableEntity? target = null;
            TableEntity? existing = null;
            var filter = TableClient.CreateQueryFilter(
                $"PartitionKey eq {partition} and RowKey lt {RecentHistory.FactRowKeyBound} and (FactId eq {correction.Supersedes} or FactId eq {correction.Id})");
            await foreach (var row in tables.Facts.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
            {
                if (row.GetString(FactRows.FactId) == correction.Id) { existing = row; }
                else { target = row; }
            }

            if (existing is not null)
            {
                var stored = FactRows.FromEntity(existing).Fact;
                return FactIdentity.Hash(stored) == FactIdentity.Hash(correction)
                    ? CorrectionOutcome.AlreadyApplied
                    : new CorrectionOutcome.Rejected(FactIdentity.Reused(correction, stored));
            }

            if (target is null)
            {
                return new CorrectionOutcome.Rejected(
                    $"supersedes unknown fact '{correction.Supersedes}' in partition {correction.PartitionKey} (publish the original first; facts of one member stay ordered)");
            }

            if (target.GetString(FactRows.SupersededBy) is { } other)
            {
                return new CorrectionOutcome.Rejected($"fact '{correction.Supersedes}' is already superseded by '{other}'; supersede the newest version instead");
            }

            if (correction.IngestTime < target.GetDateTimeOffset(FactRows.IngestTime))
            {
                return new CorrectionOutcome.Rejected($"correction '{correction.Id}' was ingested before the fact it supersedes");
            }

            var mark = new TableEntity(target.PartitionKey, target.RowKey)
            {
                [FactRows.SupersededAt] = correction.IngestTime,
                [FactRows.SupersededBy] = correction.Id,
                ETag = target.ETag,
            };
            var member = RecentHistory.Applies(partition);
            var ids = member ? await StartIdentitiesAsync(partition, cancellationToken) : null;
            var packedIds = ids is not null && ids.HasRoom;
            List<TableTransactionAction> actions =
            [
                new TableTransactionAction(TableTransactionActionType.Add, FactRows.ToEntity(correction)),
                new TableTransactionAction(TableTransactionActionType.UpdateMerge, mark, target.ETag),
            ];
            if (!packedIds)
            {
                actions.Add(new TableTransactionAction(TableTransactionActionType.Add, FactIdentity.ToEntity(correction)));
            }

            try
            {
                if (member)
                {
                    var start = await StartRecentAsync(partition, cancellationToken);
                    var next = await start.ApplyAsync([correction], target.RowKey, correction.IngestTime, tables.Recent.Cap, tables.Recent.CurrentAfter(partition), cancellationToken);
                    var nextIds = packedIds ? ids!.With([correction]) : null;
                    if (nextIds is not null)
                    {
                        actions.Add(ids!.Write(partition, nextIds));
                    }

                    actions.Add(RecentHistoryStore.Write(partition, start, next));
                    await SubmitAsync(partition, actions, next, nextIds, cancellationToken);
                }
                else
                {
                    await tables.Facts.SubmitTransactionAsync(actions, cancellationToken);
                }

                return CorrectionOutcome.Applied;
            }
            catch (TableTransactionFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
            {
                // Someone wrote the correction or touched the target or the member's entity meanwhile: look again.
            }
        }

        throw new InvalidOperationException($"correction '{correction.Id}' kept conflicting; the batch will be redelivered");
    }
}
