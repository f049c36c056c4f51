using System.Net;
using Azure;
using Azure.Data.Tables;
using Serverless.Facts;

namespace Serverless.Archive;

/// <summary>
/// Table I/O of the <see cref="RecentHistory"/> entities in the facts table: the live path's point
/// read, the writers' read (which builds the entity from the fact rows when a partition written
/// before the entity existed has none: the lazy backfill), and the queries a write may need.
/// </summary>
public sealed class RecentHistoryStore(TableClient facts, int cap)
{
    /// <summary>How many current versions an entity holds at most.</summary>
    public int Cap => cap;

    /// <summary>The stored entity (one point read); null when there is none or its format is unknown.</summary>
    public async Task<RecentHistory?> ReadAsync(string partition, CancellationToken cancellationToken)
    {
        var response = await facts.GetEntityIfExistsAsync<TableEntity>(partition, RecentHistory.RowKey, cancellationToken: cancellationToken);
        return response.HasValue ? RecentHistory.FromEntity(response.Value!) : null;
    }

    /// <summary>
    /// The entity a writer starts from: the stored one, or one built from the partition's fact rows
    /// when none is stored (not stored yet: the write adds it) or its format is unknown (the write
    /// replaces it, guarded by its ETag). <see cref="WriterStart.BuiltFromRows"/> says how many
    /// rows a build read (null when the stored entity was used).
    /// </summary>
    public async Task<WriterStart> ReadForWriteAsync(string partition, CancellationToken cancellationToken)
    {
        var response = await facts.GetEntityIfExistsAsync<TableEntity>(partition, RecentHistory.RowKey, cancellationToken: cancellationToken);
        if (response.HasValue && RecentHistory.FromEntity(response.Value!) is { } stored)
        {
            return new WriterStart(stored, null);
        }

        var rows = await FactRowsAsync(partition, cancellationToken);
        var etag = response.HasValue ? response.Value!.ETag : default;
        return new WriterStart(RecentHistory.FromFactRows(rows, cap, etag), rows.Count);
    }

    /// <summary>Every fact row of a partition, in row-key order (never the entity).</summary>
    public async Task<List<ArchivedFact>> FactRowsAsync(string partition, CancellationToken cancellationToken)
    {
        var rows = new List<ArchivedFact>();
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey lt {RecentHistory.FactRowKeyBound}");
        await foreach (var row in facts.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            rows.Add(FactRows.FromEntity(row));
        }

        return rows;
    }

    /// <summary>
    /// Adds the entity built from <paramref name="rows"/> (all fact rows of the partition) unless
    /// one is stored meanwhile: a writer that stored fact rows since stored its own entity with them,
    /// so a conflict means the stored one is newer. Returns whether it was added.
    /// </summary>
    public async Task<bool> TryAddBuiltAsync(string partition, IReadOnlyList<ArchivedFact> rows, CancellationToken cancellationToken)
    {
        try
        {
            await facts.AddEntityAsync(RecentHistory.FromFactRows(rows, cap).ToEntity(partition), cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            return false;
        }
    }

    /// <summary>The newest current versions stored after <paramref name="rowKey"/> (at most <paramref name="take"/>).</summary>
    public async Task<IReadOnlyList<Fact>> CurrentAfterAsync(string partition, string rowKey, int take, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {partition} and RowKey gt {rowKey} and RowKey lt {RecentHistory.FactRowKeyBound} and SupersededAt ge {FactRows.Never} and Kind ne {FactJson.KindName(FactKind.Retraction)}");
        var result = new List<Fact>(Math.Min(take, 1000));
        await foreach (var page in facts.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(take, 1000), cancellationToken: cancellationToken).AsPages())
        {
            foreach (var row in page.Values)
            {
                result.Add(FactRows.FromEntity(row).Fact);
                if (result.Count == take)
                {
                    return result;
                }
            }
        }

        return result;
    }

    /// <summary>Which of <paramref name="rowKeys"/> (all of one partition) are stored: one range query of keys only.</summary>
    public async Task<HashSet<string>> ExistingAsync(string partition, IReadOnlyCollection<string> rowKeys, CancellationToken cancellationToken)
    {
        var wanted = rowKeys.ToHashSet(StringComparer.Ordinal);
        var found = new HashSet<string>(StringComparer.Ordinal);
        if (wanted.Count == 0)
        {
            return found;
        }

        var from = wanted.Min(StringComparer.Ordinal)!;
        var to = wanted.Max(StringComparer.Ordinal)!;
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {from} and RowKey le {to}");
        await foreach (var row in facts.QueryAsync<TableEntity>(filter, select: ["RowKey"], cancellationToken: cancellationToken))
        {
            if (wanted.Contains(row.RowKey))
            {
                found.Add(row.RowKey);
            }
        }

        return found;
    }

    /// <summary>The content hashes of the identity rows of <paramref name="ids"/> (all of one partition) that are stored: one range query.</summary>
    public async Task<Dictionary<string, string>> IdentitiesAsync(string partition, IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var wanted = ids.Select(FactIdentity.RowKey).ToHashSet(StringComparer.Ordinal);
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        if (wanted.Count == 0)
        {
            return found;
        }

        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {partition} and RowKey ge {wanted.Min(StringComparer.Ordinal)} and RowKey le {wanted.Max(StringComparer.Ordinal)}");
        await foreach (var row in facts.QueryAsync<TableEntity>(filter, select: ["RowKey", FactIdentity.ContentHash], cancellationToken: cancellationToken))
        {
            if (wanted.Contains(row.RowKey))
            {
                found[row.RowKey[FactIdentity.RowKeyPrefix.Length..]] = row.GetString(FactIdentity.ContentHash) ?? "";
            }
        }

        return found;
    }

    /// <summary>The stored version of fact <paramref name="id"/> in a partition (a query for its id; only on the rare path of a re-used id).</summary>
    public async Task<Fact?> StoredAsync(string partition, string id, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey lt {RecentHistory.FactRowKeyBound} and FactId eq {id}");
        await foreach (var row in facts.QueryAsync<TableEntity>(filter, maxPerPage: 1, cancellationToken: cancellationToken))
        {
            return FactRows.FromEntity(row).Fact;
        }

        return null;
    }

    /// <summary>The transaction action that stores <paramref name="next"/> in place of <paramref name="start"/> (ETag-guarded, or an add).</summary>
    public static TableTransactionAction Write(string partition, RecentHistory start, RecentHistory next) =>
        start.IsStored
            ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, next.ToEntity(partition), start.ETag)
            : new TableTransactionAction(TableTransactionActionType.Add, next.ToEntity(partition));

    /// <summary>The step <see cref="RecentHistory.ApplyAsync"/> takes to read versions beyond the held ones, for one partition.</summary>
    public Func<string, int, CancellationToken, Task<IReadOnlyList<Fact>>> CurrentAfter(string partition) =>
        (rowKey, take, cancellationToken) => CurrentAfterAsync(partition, rowKey, take, cancellationToken);
}

/// <summary>What a writer starts from; <paramref name="BuiltFromRows"/> is the rows read to build it (null: it was stored).</summary>
public sealed record WriterStart(RecentHistory History, int? BuiltFromRows);
