using System.Collections.Concurrent;
using Azure.Data.Tables;

namespace Serverless.Archive;

/// <summary>
/// The list of archive partitions (members and titles), so batch reads go partition by partition
/// instead of scanning the whole table. Ingestion registers each new partition once (idempotent
/// upserts); an instance remembers what it registered so steady-state ingestion adds no writes.
/// </summary>
public sealed class PartitionIndex(TableClient table)
{
    public const string IndexPartition = "index";
    private const int MaxRemembered = 2_000_000;
    private readonly ConcurrentDictionary<string, byte> known = new(StringComparer.Ordinal);

    public TableClient Table => table;

    public async Task RegisterAsync(IEnumerable<string> partitionKeys, CancellationToken cancellationToken)
    {
        var fresh = partitionKeys.Where(k => !known.ContainsKey(k)).Distinct(StringComparer.Ordinal).ToList();
        foreach (var chunk in fresh.Chunk(100))
        {
            await table.SubmitTransactionAsync(
                chunk.Select(k => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(IndexPartition, k))),
                cancellationToken);
        }

        if (known.Count < MaxRemembered)
        {
            foreach (var k in fresh)
            {
                known.TryAdd(k, 0);
            }
        }
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
