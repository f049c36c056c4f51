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
/// reason; the rest of the batch is stored.
/// </summary>
public sealed class FactArchive(
    ArchiveTables tables,
    FactValidator validator,
    ArchiveOptions options,
    TimeProvider time,
    ILogger<FactArchive> logger)
{
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
        await tables.Partitions.RegisterAsync(facts.Select(f => f.PartitionKey), cancellationToken);

        var stored = await IdempotentInserts.InsertAllAsync(tables.Facts, originals.Select(FactRows.ToEntity), options.IngestParallelism, cancellationToken);
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

    /// <summary>
    /// Stores a correction and marks the version it supersedes, atomically (one partition, one
    /// transaction, guarded by the target's ETag).
    /// </summary>
    private async Task<CorrectionOutcome> ApplyCorrectionAsync(Fact correction, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            TableEntity? target = null;
            TableEntity? existing = null;
            var filter = TableClient.CreateQueryFilter($"PartitionKey eq {correction.PartitionKey} and (FactId eq {correction.Supersedes} or FactId eq {correction.Id})");
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
            try
            {
                await tables.Facts.SubmitTransactionAsync(
                [
                    new TableTransactionAction(TableTransactionActionType.Add, FactRows.ToEntity(correction)),
                    new TableTransactionAction(TableTransactionActionType.UpdateMerge, mark, target.ETag),
                ], cancellationToken);
                return CorrectionOutcome.Applied;
            }
            catch (TableTransactionFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
            {
                // Someone wrote the correction or touched the target meanwhile: look again.
            }
        }

        throw new InvalidOperationException($"correction '{correction.Id}' kept conflicting; the batch will be redelivered");
    }
}
