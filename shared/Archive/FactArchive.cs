using System.Net;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using Serverless.Events;
using Serverless.Facts;
using Serverless.Storage;

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

    public async Task<IngestResult> IngestAsync(IReadOnlyList<IncomingEvent> events, CancellationToken cancellationToken = default)
    {
        var facts = new List<Fact>(events.Count);
        var sources = new Dictionary<string, IncomingEvent>(StringComparer.Ordinal);
        var rejected = new List<(DeadLetter, string)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var duplicates = 0;
        foreach (var e in events)
        {
            var parsed = validator.Parse(e.Body.Span, e.EnqueuedTime);
            if (parsed.Fact is not { } fact)
            {
                rejected.Add(Reject(e, parsed.Error!));
            }
            else if (!seen.Add(fact.Id))
            {
                duplicates++;
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

        // Catalog rows are plain idempotent inserts; a member's rows go in with the member's recent-history entity.
        var stored = await IdempotentInserts.InsertAllAsync(
            tables.Facts, originals.Where(f => !RecentHistory.Applies(f.PartitionKey)).Select(FactRows.ToEntity), options.IngestParallelism, cancellationToken);
        await Parallel.ForEachAsync(
            originals.Where(f => RecentHistory.Applies(f.PartitionKey)).GroupBy(f => f.PartitionKey, StringComparer.Ordinal),
            new ParallelOptions { MaxDegreeOfParallelism = options.IngestParallelism, CancellationToken = cancellationToken },
            async (partition, ct) => Interlocked.Add(ref stored, await AddToMemberAsync(partition.Key, partition.ToList(), created.Contains(partition.Key), ct)));
        duplicates += originals.Count - stored;

        var applied = 0;
        foreach (var byPartition in corrections.GroupBy(f => f.PartitionKey))
        {
            foreach (var correction in byPartition)
            {
                var outcome = await ApplyCorrectionAsync(correction, cancellationToken);
                switch (outcome)
                {
                    case CorrectionOutcome.AppliedOutcome: applied++; break;
                    case CorrectionOutcome.AlreadyAppliedOutcome: duplicates++; break;
                    case CorrectionOutcome.Rejected(var reason):
                        rejected.Add(Reject(sources[correction.Id], reason));
                        break;
                }
            }
        }

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

    /// <summary>Fact rows in one transaction with the recent-history entity (a transaction holds at most 100 actions).</summary>
    public const int MaxFactsPerTransaction = 99;

    /// <summary>Attempts of one transaction that keeps conflicting (another writer of the partition) before the batch fails and is redelivered.</summary>
    private const int MaxAttempts = 8;

    /// <summary>
    /// Adds a member's new rows, up to 99 per transaction, each transaction with the member's
    /// recent-history entity (ETag-guarded; added when the member has none). Rows already stored are
    /// left as they are: those the entity holds are skipped before writing; others (superseded, or
    /// older than what the entity holds) make the transaction fail, are looked up and skipped.
    /// Returns how many rows were new. A partition this batch <paramref name="created"/> (registered
    /// in the index just now) has no rows and no entity yet: its first transaction adds the entity
    /// without reading first.
    /// </summary>
    private async Task<int> AddToMemberAsync(string partition, IReadOnlyList<Fact> facts, bool created, CancellationToken cancellationToken)
    {
        var added = 0;
        foreach (var chunk in facts.Chunk(MaxFactsPerTransaction))
        {
            added += await AddChunkToMemberAsync(partition, chunk, created && added == 0, cancellationToken);
        }

        return added;
    }

    private async Task<int> AddChunkToMemberAsync(string partition, Fact[] chunk, bool created, CancellationToken cancellationToken)
    {
        var stored = new HashSet<string>(StringComparer.Ordinal);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var start = created && attempt == 0 ? RecentHistory.Empty(tables.Recent.Cap) : await StartRecentAsync(partition, cancellationToken);
            var rows = chunk.Where(f => FactRows.RowKey(f) is var key && !stored.Contains(key) && !start.Holds(key)).ToList();
            if (rows.Count == 0)
            {
                return 0;
            }

            var next = await start.ApplyAsync(rows, null, null, tables.Recent.Cap, tables.Recent.CurrentAfter(partition), cancellationToken);
            var actions = rows.Select(f => new TableTransactionAction(TableTransactionActionType.Add, FactRows.ToEntity(f))).ToList();
            actions.Add(RecentHistoryStore.Write(partition, start, next));
            try
            {
                await SubmitAsync(partition, actions, next, cancellationToken);
                return rows.Count;
            }
            catch (TableTransactionFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
            {
                // Stored rows the entity does not hold (a redelivery), or another writer added the entity: see which, then again.
                stored.UnionWith(await tables.Recent.ExistingAsync(partition, rows.Select(FactRows.RowKey).ToList(), cancellationToken));
            }
            catch (TableTransactionFailedException ex) when (ex.Status == (int)HttpStatusCode.PreconditionFailed)
            {
                // Another writer changed the member meanwhile: read the entity again.
            }
        }

        throw new InvalidOperationException($"adding facts to {partition} kept conflicting; the batch will be redelivered");
    }

    /// <summary>
    /// Submits a transaction whose last action writes the member's entity <paramref name="next"/>,
    /// and keeps it with the ETag the write returned. A failed one forgets what was kept: the next
    /// attempt reads the entity.
    /// </summary>
    private async Task SubmitAsync(string partition, List<TableTransactionAction> actions, RecentHistory next, CancellationToken cancellationToken)
    {
        try
        {
            var response = await tables.Facts.SubmitTransactionAsync(actions, cancellationToken);
            written.Keep(partition, next, response.Value.Count == actions.Count ? response.Value[^1].Headers.ETag : null);
        }
        catch
        {
            written.Forget(partition);
            throw;
        }
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
                return CorrectionOutcome.AlreadyApplied;
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
            List<TableTransactionAction> actions =
            [
                new TableTransactionAction(TableTransactionActionType.Add, FactRows.ToEntity(correction)),
                new TableTransactionAction(TableTransactionActionType.UpdateMerge, mark, target.ETag),
            ];
            try
            {
                if (RecentHistory.Applies(partition))
                {
                    var start = await StartRecentAsync(partition, cancellationToken);
                    var next = await start.ApplyAsync([correction], target.RowKey, correction.IngestTime, tables.Recent.Cap, tables.Recent.CurrentAfter(partition), cancellationToken);
                    actions.Add(RecentHistoryStore.Write(partition, start, next));
                    await SubmitAsync(partition, actions, next, cancellationToken);
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
