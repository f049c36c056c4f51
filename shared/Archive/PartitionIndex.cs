using System.Collections.Concurrent;
using System.Net;
using Azure;
using Azure.Data.Tables;

namespace Serverless.Archive;

/// <summary>
/// The list of archive partitions (members and titles), so batch reads go partition by partition
/// instead of scanning the whole table. Ingestion registers each new partition once (idempotent
/// inserts) before it stores a row there; an instance remembers what it registered so steady-state
/// ingestion adds no writes. Since rows come after registration, a partition this registration
/// created has no rows yet.
/// </summary>
public sealed class PartitionIndex(TableClient table)
{
    public const string IndexPartition = "index";
    private const int MaxRemembered = 2_000_000;
    private readonly ConcurrentDictionary<string, byte> known = new(StringComparer.Ordinal);

    public TableClient Table => table;

    /// <summary>Registers partitions; returns those it created (they were not in the index, so they hold no rows yet).</summary>
    public async Task<IReadOnlySet<string>> RegisterAsync(IEnumerable<string> partitionKeys, CancellationToken cancellationToken)
    {
        var fresh = partitionKeys.Where(k => !known.ContainsKey(k)).Distinct(StringComparer.Ordinal).ToList();
        var created = new HashSet<string>(StringComparer.Ordinal);
        foreach (var chunk in fresh.Chunk(Storage.TableBatches.MaxActions))
        {
            try
            {
                await table.SubmitTransactionAsync(
                    chunk.Select(k => new TableTransactionAction(TableTransactionActionType.Add, new TableEntity(IndexPartition, k))),
                    cancellationToken);
                created.UnionWith(chunk);
            }
            catch (TableTransactionFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
            {
                // Some were registered before (by another instance, or before this one started): one by one.
                foreach (var key in chunk)
                {
                    try
                    {
                        await table.AddEntityAsync(new TableEntity(IndexPartition, key), cancellationToken);
                        created.Add(key);
                    }
                    catch (RequestFailedException one) when (one.Status == (int)HttpStatusCode.Conflict)
                    {
                    }
                }
            }
        }

        if (known.Count < MaxRemembered)
        {
            foreach (var k in fresh)
            {
                known.TryAdd(k, 0);
            }
        }

        return created;
    }

    /// <summary>Partition keys after <paramref name="after"/> (exclusive; null = from the start), in key order.</summary>
    public async Task<IReadOnlyList<string>> ListAsync(string? after, int max, CancellationToken cancellationToken)
    {
        var filter = after is null
            ? TableClient.CreateQueryFilter($"PartitionKey eq {IndexPartition}")
            : TableClient.CreateQueryFilter($"PartitionKey eq {IndexPartition} and RowKey gt {after}");
        var result = new List<string>(Math.Min(max, 1000));
        await foreach (var page in table.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(max, 1000), select: ["RowKey"], cancellationToken: cancellationToken).AsPages())
        {
            foreach (var row in page.Values)
            {
                result.Add(row.RowKey);
                if (result.Count == max)
                {
                    return result;
                }
            }
        }

        return result;
    }
}
