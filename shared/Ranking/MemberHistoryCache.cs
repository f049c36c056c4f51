using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Serverless.Archive;

namespace Serverless.Ranking;

/// <summary>
/// A member's history as served: the facts, and the moment the archive was read as of. Reading the
/// archive's live interface as of <see cref="ReadAt"/> gives exactly these facts again (the
/// archive is bitemporal), which is why it is the watermark logged with every scored vector.
/// </summary>
public sealed record MemberHistoryRead(IReadOnlyList<ArchivedFact> Facts, DateTimeOffset ReadAt);

/// <summary>The history cache's counters, and the archive reads of the last minute (what health checks).</summary>
public sealed record HistoryCacheStats(long Hits, long Misses, long StorageReads, int InFlight, int Entries, int ReadsLastMinute, double? ReadP99MsLastMinute);

/// <summary>
/// A read-through cache of members' histories from the archive's live interface. An entry read as
/// of F holds everything known at F, so it serves requests as of T >= F within the TTL; older
/// requests read the archive. A request as of a moment after now reads as of now (nothing later is
/// known yet). What a request used is its read time (<see cref="MemberHistoryRead.ReadAt"/>).
/// </summary>
public sealed class MemberHistoryCache(ArchiveReader archive, IOptions<ServingOptions> options, TimeProvider time)
{
    private sealed record Entry(MemberHistoryRead Read, int Limit);

    private readonly ConcurrentDictionary<string, Entry> entries = new(StringComparer.Ordinal);
    private long hits;
    private long misses;

    public long Hits => Interlocked.Read(ref hits);
    public long Misses => Interlocked.Read(ref misses);

    /// <summary>What the cache measures: hits and misses (every miss reads the archive); read timings are not measured here.</summary>
    public HistoryCacheStats Stats() => new(Hits, Misses, Misses, 0, 0, 0, null);

    public async Task<MemberHistoryRead> HistoryAsync(string member, int limit, DateTimeOffset asOf, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var now = time.GetUtcNow();
        if (o.HistoryCacheTtl > TimeSpan.Zero && entries.TryGetValue(member, out var entry)
            && entry.Limit >= limit && asOf >= entry.Read.ReadAt && now - entry.Read.ReadAt <= o.HistoryCacheTtl)
        {
            Interlocked.Increment(ref hits);
            return entry.Read;
        }

        Interlocked.Increment(ref misses);
        var at = asOf < now ? asOf : now;
        var read = new MemberHistoryRead(await archive.HistoryAsync(member, limit, at, cancellationToken), at);
        if (o.HistoryCacheTtl > TimeSpan.Zero && at >= now - TimeSpan.FromSeconds(1))
        {
            if (entries.Count >= o.HistoryCacheSize)
            {
                // Bounded: drop expired entries, and if that is not enough, start over.
                foreach (var (key, value) in entries)
                {
                    if (now - value.Read.ReadAt > o.HistoryCacheTtl) { entries.TryRemove(key, out _); }
                }

                if (entries.Count >= o.HistoryCacheSize) { entries.Clear(); }
            }

            entries[member] = new Entry(read, limit);
        }

        return read;
    }
}
