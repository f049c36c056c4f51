using Azure;

namespace Serverless.Archive;

/// <summary>
/// The recent-history entities this instance wrote last (packed bytes and the ETag the write
/// returned), so a member's next transaction starts without reading its entity back. Safe when
/// stale: a write from a stale entity fails its ETag guard and the entity is read again; and the
/// rows a stale entity holds still exist (rows are never deleted), so skipping them stays right.
/// Bounded by bytes; the least recently written entities go first.
/// </summary>
internal sealed class RecentWrites(long maxBytes)
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, LinkedListNode<(string Partition, byte[] Packed, ETag ETag)>> byPartition = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Partition, byte[] Packed, ETag ETag)> recency = new();
    private long bytes;

    public RecentHistory? Find(string partition)
    {
        (string Partition, byte[] Packed, ETag ETag) kept;
        lock (gate)
        {
            if (!byPartition.TryGetValue(partition, out var node))
            {
                return null;
            }

            kept = node.Value;
        }

        return RecentHistory.FromPacked(kept.Packed, kept.ETag);
    }

    public void Keep(string partition, RecentHistory written, ETag? etag)
    {
        if (etag is not { } stored || written.PackedBytes > maxBytes)
        {
            Forget(partition);
            return;
        }

        var packed = written.Packed;
        lock (gate)
        {
            RemoveLocked(partition);
            byPartition[partition] = recency.AddFirst((partition, packed, stored));
            bytes += packed.Length;
            while (bytes > maxBytes && recency.Last is { } oldest)
            {
                RemoveLocked(oldest.Value.Partition);
            }
        }
    }

    public void Forget(string partition)
    {
        lock (gate)
        {
            RemoveLocked(partition);
        }
    }

    private void RemoveLocked(string partition)
    {
        if (byPartition.Remove(partition, out var node))
        {
            recency.Remove(node);
            bytes -= node.Value.Packed.Length;
        }
    }
}
