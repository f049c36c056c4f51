using System.Net;
using Azure;
using Azure.Data.Tables;

namespace Serverless.Storage;

/// <summary>
/// Many rows in few requests: entity-group transactions of at most <see cref="MaxActions"/> actions,
/// one partition each (the service's limits).
/// </summary>
public static class TableBatches
{
    /// <summary>Actions one entity-group transaction holds at most.</summary>
    public const int MaxActions = 100;

    /// <summary>Upserts (merge) the rows, grouped by partition, <see cref="MaxActions"/> per transaction.</summary>
    public static async Task UpsertMergeAsync(TableClient table, IEnumerable<TableEntity> rows, CancellationToken cancellationToken)
    {
        foreach (var chunk in rows.GroupBy(r => r.PartitionKey).SelectMany(g => g.Chunk(MaxActions)))
        {
            await table.SubmitTransactionAsync(chunk.Select(e => new TableTransactionAction(TableTransactionActionType.UpsertMerge, e)), cancellationToken);
        }
    }

    /// <summary>
    /// Deletes the rows of one partition, <see cref="MaxActions"/> per transaction; rows already gone
    /// are fine: a transaction that finds one gone (someone deleted it meanwhile) deletes its rows one by one.
    /// </summary>
    public static async Task DeleteAsync(TableClient table, string partition, IEnumerable<string> rowKeys, CancellationToken cancellationToken)
    {
        foreach (var chunk in rowKeys.Chunk(MaxActions))
        {
            try
            {
                await table.SubmitTransactionAsync(chunk.Select(key => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partition, key), ETag.All)), cancellationToken);
            }
            catch (TableTransactionFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
            {
                foreach (var key in chunk)
                {
                    try
                    {
                        await table.DeleteEntityAsync(partition, key, ETag.All, cancellationToken);
                    }
                    catch (RequestFailedException gone) when (gone.Status == (int)HttpStatusCode.NotFound)
                    {
                    }
                }
            }
        }
    }
}
