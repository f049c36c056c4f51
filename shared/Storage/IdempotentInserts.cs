using System.Net;
using Azure;
using Azure.Data.Tables;

namespace Serverless.Storage;

/// <summary>
/// Inserts rows whose keys are derived from their content, so a redelivered row hits its own key:
/// one transaction per chunk (one partition, at most 100 rows); when part of the chunk already exists
/// (redelivery after a failure half-way) the rows go in one by one and existing ones are kept as they are.
/// </summary>
public static class IdempotentInserts
{
    /// <summary>Inserts one partition's chunk; returns how many rows were new.</summary>
    public static async Task<int> InsertAsync(TableClient table, IReadOnlyList<TableEntity> chunk, CancellationToken cancellationToken)
    {
        try
        {
            await table.SubmitTransactionAsync(chunk.Select(e => new TableTransactionAction(TableTransactionActionType.Add, e)), cancellationToken);
            return chunk.Count;
        }
        catch (TableTransactionFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            var added = 0;
            foreach (var entity in chunk)
            {
                try
                {
                    await table.AddEntityAsync(entity, cancellationToken);
                    added++;
                }
                catch (RequestFailedException one) when (one.Status == (int)HttpStatusCode.Conflict)
                {
                }
            }

            return added;
        }
    }

    /// <summary>Groups rows by partition, chunks them by 100 and inserts with bounded parallelism; returns how many were new.</summary>
    public static async Task<int> InsertAllAsync(TableClient table, IEnumerable<TableEntity> rows, int parallelism, CancellationToken cancellationToken)
    {
        var added = 0;
        await Parallel.ForEachAsync(
            rows.GroupBy(r => r.PartitionKey).SelectMany(g => g.Chunk(TableBatches.MaxActions)),
            new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken },
            async (chunk, ct) => Interlocked.Add(ref added, await InsertAsync(table, chunk, ct)));
        return added;
    }
}
