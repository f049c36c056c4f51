using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Serverless.Archive;

namespace Serverless.Ranking;

/// <summary>
/// A read-through cache of members' histories from the archive's live interface. An entry fetched
/// at F holds everything known at F, so it serves requests as of T >= F within the TTL; older
/// requests read the archive. What a request used is visible in its logged watermark (the newest
/// ingest time among the facts it read), which is how offline jobs reproduce it exactly.
/// </summary>
public sealed class MemberHistoryCache(ArchiveReader archive, IOptions<ServingOptions> options, TimeProvider time)
{
    private sealed record Entry(IReadOnlyList<ArchivedFact> History, DateTimeOffset FetchedAt, int Limit);

    private readonly ConcurrentDictionary<string, Entry> entries = new(StringComparer.Ordinal);
    private long hits;
    private long misses;

    public long Hits => Interlocked.Read(ref hits);
    public long Misses => Interlocked.Read(ref misses);

    public async Task<IReadOnlyList<ArchivedFact>> HistoryAsync(string member, int limit, DateTimeOffset asOf, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var now = time.GetUtcNow();
        if (o.HistoryCacheTtl > TimeSpan.Zero && entries.TryGetValue(member, out var entry)
            && entry.Limit >= limit && asOf >= entry.FetchedAt && now - entry.FetchedAt <= o.HistoryCacheTtl)
        {
            Interlocked.Increment(ref hits);
            return entry.History;
        }

        Interlocked.Increment(ref misses);
        var history = await archive.HistoryAsync(member, limit, asOf, cancellationToken);
        if (o.HistoryCacheTtl > TimeSpan.Zero && asOf >= now - TimeSpan.FromSeconds(1))
        {
            if (entries.Count >= o.HistoryCacheSize)
            {
                // Bounded: drop expired entries, and if that is not enough, start over.
                foreach (var (key, value) in entries)
                {
                    if (now - value.FetchedAt > o.HistoryCacheTtl) { entries.TryRemove(key, out _); }
                }

                if (entries.Count >= o.HistoryCacheSize) { entries.Clear(); }
            }

            entries[member] = new Entry(history, asOf, limit);
        }

        return history;
    }
}
