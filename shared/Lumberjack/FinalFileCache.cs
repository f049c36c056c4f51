namespace Serverless.Lumberjack;

/// <summary>
/// What offline readers read of final feature-log files, kept in memory after the first read. A final
/// file never changes: its requests blob is written once (If-None-Match) and the label join works only
/// on open files, so a final file's labels are settled too. In one process the readers that follow
/// each other over the same labelled impressions (counting them, training on logged features, the
/// Sentinel's shadow data) then read each final file from storage once. Bounded by impressions held;
/// the least recently read file goes first. Entries are shared: callers treat them as read-only.
/// </summary>
public sealed class FinalFileCache(int maxImpressions = FinalFileCache.DefaultMaxImpressions)
{
    /// <summary>About 40 MB of logged vectors of 25 features.</summary>
    public const int DefaultMaxImpressions = 200_000;

    /// <summary>One final file's requests and labels.</summary>
    public sealed record Entry(List<LandedRequest> Requests, Dictionary<string, RequestLabels>? Labels)
    {
        public int Impressions { get; } = Requests.Sum(r => r.Records.Count);
    }

    private readonly Lock gate = new();
    private readonly Dictionary<string, LinkedListNode<(string Id, Entry Entry)>> entries = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Id, Entry Entry)> recency = new();
    private long held;

    /// <summary>Impressions held now.</summary>
    public long Impressions
    {
        get
        {
            lock (gate)
            {
                return held;
            }
        }
    }

    public bool TryGet(string fileId, out Entry entry)
    {
        lock (gate)
        {
            if (entries.TryGetValue(fileId, out var node))
            {
                recency.Remove(node);
                recency.AddFirst(node);
                entry = node.Value.Entry;
                return true;
            }
        }

        entry = null!;
        return false;
    }

    /// <summary>Keeps a final file's content (a file larger than the whole bound is not kept).</summary>
    public void Keep(string fileId, Entry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Impressions > maxImpressions)
        {
            return;
        }

        lock (gate)
        {
            if (entries.ContainsKey(fileId))
            {
                return;
            }

            entries[fileId] = recency.AddFirst((fileId, entry));
            held += entry.Impressions;
            while (held > maxImpressions && recency.Last is { } oldest)
            {
                recency.RemoveLast();
                entries.Remove(oldest.Value.Id);
                held -= oldest.Value.Entry.Impressions;
            }
        }
    }
}
