using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Archive;

namespace Serverless.Ranking;

/// <summary>
/// A member's history as served: the facts, and the moment the archive was read as of. Reading the
/// archive's live interface as of <see cref="ReadAt"/> gives exactly these facts again (the
/// archive is bitemporal), which is why it is the watermark logged with every scored vector.
/// </summary>
public sealed record MemberHistoryRead(IReadOnlyList<ArchivedFact> Facts, DateTimeOffset ReadAt)
{
    /// <summary>
    /// The newest ingest time among <see cref="Facts"/> (<see cref="Lumberjack.FeatureLogRecord.NoHistory"/>
    /// when there are none): the archive as of it holds these facts but none that was still in flight
    /// at the read (a fact of the member enqueued before <see cref="ReadAt"/> that had not landed yet
    /// is ingested after every fact of the member that had).
    /// </summary>
    public DateTimeOffset FactsWatermark { get; } = Facts.Count == 0 ? Lumberjack.FeatureLogRecord.NoHistory : Facts.Max(f => f.Fact.IngestTime);
}

/// <summary>
/// What the history cache did (for /api/health). Hits: requests answered from an entry. Misses: the
/// others (they joined a read under way or started one). StorageReads: archive reads started
/// (misses, refreshes ahead). InFlight: archive reads under way. Entries: members held.
/// ReadsLastMinute and ReadP99MsLastMinute: archive reads completed in the last minute and the
/// 99th percentile of their durations (null when there were none).
/// </summary>
public sealed record HistoryCacheStats(long Hits, long Misses, long StorageReads, int InFlight, int Entries, int ReadsLastMinute, double? ReadP99MsLastMinute);

/// <summary>
/// A read-through cache of members' histories from the archive's live interface. An entry read as
/// of F holds everything known at F, so it serves requests as of T >= F within the TTL; older
/// requests read the archive. A request as of a moment after now reads as of now (nothing later is
/// known yet). What a request used is its read time (<see cref="MemberHistoryRead.ReadAt"/>).
/// Under load it never stampedes the archive:
/// - single flight: one archive read per member at a time; concurrent requests for the member
///   await that read (when it serves them: read as of at most their asOf, at least their limit);
/// - a caller's token (the request's deadline) bounds only its own wait: the read goes on, is
///   cancelled only when the host stops, and fills the cache for the member's next request;
/// - an entry within <see cref="ServingOptions.HistoryRefreshAhead"/> of its TTL is read again in
///   the background while it is still served;
/// - bounded LRU: at <see cref="ServingOptions.HistoryCacheSize"/> entries the least recently used
///   one goes.
/// </summary>
public sealed class MemberHistoryCache : IDisposable
{
    /// <summary>A request as of at most this long before now still fills the cache (its read is as of its asOf).</summary>
    public static readonly TimeSpan CacheableLag = TimeSpan.FromSeconds(1);

    private readonly ILiveHistory archive;
    private readonly IOptions<ServingOptions> options;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly Lock gate = new();
    private readonly Dictionary<string, LinkedListNode<Entry>> entries = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> recency = new();
    private readonly Dictionary<string, Flight> flights = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource stopping = new();
    private readonly CancellationTokenRegistration stoppingRegistration;
    private readonly RollingLatency latency;
    private long hits;
    private long misses;
    private long storageReads;
    private int inFlight;

    public MemberHistoryCache(
        ILiveHistory archive,
        IOptions<ServingOptions> options,
        TimeProvider time,
        ILogger<MemberHistoryCache>? logger = null,
        IHostApplicationLifetime? lifetime = null)
    {
        this.archive = archive;
        this.options = options;
        this.time = time;
        this.logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        latency = new RollingLatency(time);
        if (lifetime is not null)
        {
            stoppingRegistration = lifetime.ApplicationStopping.Register(static s => ((CancellationTokenSource)s!).Cancel(), stopping);
        }
    }

    /// <summary>An entry: one member's read, the limit it was read with (and the completed task a hit returns, made once).</summary>
    private sealed record Entry(string Member, MemberHistoryRead Read, int Limit)
    {
        public Task<MemberHistoryRead> Served { get; } = Task.FromResult(Read);
    }

    /// <summary>An archive read under way: as of <paramref name="At"/>, with <paramref name="Limit"/>.</summary>
    private sealed record Flight(DateTimeOffset At, int Limit, TaskCompletionSource<MemberHistoryRead> Completion);

    public long Hits => Interlocked.Read(ref hits);

    public long Misses => Interlocked.Read(ref misses);

    public HistoryCacheStats Stats()
    {
        int count;
        lock (gate)
        {
            count = entries.Count;
        }

        var reads = latency.Summary(99);
        return new HistoryCacheStats(Hits, Misses, Interlocked.Read(ref storageReads), Volatile.Read(ref inFlight), count, reads.Count, reads.PercentileMs);
    }

    /// <summary>
    /// The member's history as of <paramref name="asOf"/> (at least <paramref name="limit"/> facts
    /// when there are). <paramref name="wait"/> bounds how long this caller waits (throws
    /// <see cref="OperationCanceledException"/> when it fires); it does not cancel the read.
    /// </summary>
    public Task<MemberHistoryRead> HistoryAsync(string member, int limit, DateTimeOffset asOf, CancellationToken wait)
    {
        var o = options.Value;
        var now = time.GetUtcNow();
        var cacheable = asOf >= now - CacheableLag;
        Flight? flight = null;
        Task<MemberHistoryRead>? hit = null;
        var started = false;
        lock (gate)
        {
            if (o.HistoryCacheTtl > TimeSpan.Zero && entries.TryGetValue(member, out var node))
            {
                var entry = node.Value;
                var age = now - entry.Read.ReadAt;
                if (age > o.HistoryCacheTtl)
                {
                    // Expired: it goes (a read under way may put a new one in).
                    Remove(node);
                }
                else if (entry.Limit >= limit && asOf >= entry.Read.ReadAt)
                {
                    hits++;
                    recency.Remove(node);
                    recency.AddFirst(node);
                    if (o.HistoryRefreshAhead > TimeSpan.Zero && age >= o.HistoryCacheTtl - o.HistoryRefreshAhead && !flights.ContainsKey(member))
                    {
                        // Close to expiry: served from the entry while the member is read again in the background.
                        flight = StartFlight(member, now, entry.Limit);
                    }

                    hit = entry.Served;
                }
            }

            if (hit is null)
            {
                misses++;
                if (flights.TryGetValue(member, out var running))
                {
                    // One read per member at a time: join it when it serves this request.
                    if (running.Limit >= limit && asOf >= running.At)
                    {
                        flight = running;
                    }
                }
                else if (cacheable)
                {
                    flight = StartFlight(member, asOf < now ? asOf : now, limit);
                    started = true;
                }

                if (flight is null)
                {
                    storageReads++;
                    Interlocked.Increment(ref inFlight);
                }
            }
        }

        if (hit is not null)
        {
            if (flight is not null)
            {
                // Off the request's path: the hit does not wait for the refresh's first I/O.
                _ = Task.Run(() => RunAsync(member, flight), CancellationToken.None);
            }

            return hit;
        }

        if (flight is null)
        {
            // As of the past, or a read under way that does not serve this request: read through (not shared).
            return ReadThroughAsync(member, limit, asOf < now ? asOf : now, cacheable, wait);
        }

        if (started)
        {
            _ = RunAsync(member, flight);
        }

        return flight.Completion.Task.WaitAsync(wait);
    }

    private Flight StartFlight(string member, DateTimeOffset at, int limit)
    {
        var flight = new Flight(at, limit, new TaskCompletionSource<MemberHistoryRead>(TaskCreationOptions.RunContinuationsAsynchronously));
        flights[member] = flight;
        storageReads++;
        Interlocked.Increment(ref inFlight);
        return flight;
    }

    /// <summary>Reads the member for a flight (cancelled only by host shutdown), fills the cache and completes the flight.</summary>
    private async Task RunAsync(string member, Flight flight)
    {
        var start = time.GetTimestamp();
        try
        {
            var facts = await archive.HistoryAsync(member, flight.Limit, flight.At, stopping.Token);
            latency.Record(time.GetElapsedTime(start));
            var read = new MemberHistoryRead(facts, flight.At);
            lock (gate)
            {
                EndFlight(member, flight);
                Store(member, read, flight.Limit);
            }

            Interlocked.Decrement(ref inFlight);
            flight.Completion.SetResult(read);
        }
        catch (Exception ex)
        {
            var stopped = ex is OperationCanceledException && stopping.IsCancellationRequested;
            if (!stopped)
            {
                latency.Record(time.GetElapsedTime(start));
                logger.LogWarning(ex, "Reading the history of member {Member} as of {At} failed", member, flight.At);
            }

            lock (gate)
            {
                EndFlight(member, flight);
            }

            Interlocked.Decrement(ref inFlight);
            flight.Completion.SetException(ex);

            // Nobody may be waiting any more (deadlines passed, or a refresh): the failure is logged, not unobserved.
            _ = flight.Completion.Task.Exception;
        }
    }

    private async Task<MemberHistoryRead> ReadThroughAsync(string member, int limit, DateTimeOffset at, bool cacheable, CancellationToken wait)
    {
        var start = time.GetTimestamp();
        try
        {
            var read = new MemberHistoryRead(await archive.HistoryAsync(member, limit, at, wait), at);
            latency.Record(time.GetElapsedTime(start));
            if (cacheable)
            {
                lock (gate)
                {
                    Store(member, read, limit);
                }
            }

            return read;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            latency.Record(time.GetElapsedTime(start));
            throw;
        }
        finally
        {
            Interlocked.Decrement(ref inFlight);
        }
    }

    private void EndFlight(string member, Flight flight)
    {
        if (flights.TryGetValue(member, out var current) && ReferenceEquals(current, flight))
        {
            flights.Remove(member);
        }
    }

    /// <summary>Puts a read in the cache (most recently used) unless it holds a newer one that serves as much.</summary>
    private void Store(string member, MemberHistoryRead read, int limit)
    {
        var o = options.Value;
        if (o.HistoryCacheTtl <= TimeSpan.Zero || o.HistoryCacheSize <= 0)
        {
            return;
        }

        if (entries.TryGetValue(member, out var node))
        {
            if (node.Value.Read.ReadAt > read.ReadAt && node.Value.Limit >= limit)
            {
                return;
            }

            node.Value = new Entry(member, read, limit);
            recency.Remove(node);
            recency.AddFirst(node);
            return;
        }

        while (entries.Count >= o.HistoryCacheSize && recency.Last is { } oldest)
        {
            Remove(oldest);
        }

        entries[member] = recency.AddFirst(new Entry(member, read, limit));
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        recency.Remove(node);
        entries.Remove(node.Value.Member);
    }

    /// <summary>Completes when no archive read is under way (tests).</summary>
    internal async Task WhenIdleAsync()
    {
        while (true)
        {
            Task[] running;
            lock (gate)
            {
                running = flights.Values.Select(f => (Task)f.Completion.Task).ToArray();
            }

            if (running.Length == 0)
            {
                return;
            }

            await Task.WhenAll(running.Select(t => t.ContinueWith(static _ => { }, TaskScheduler.Default)));
        }
    }

    /// <summary>Members held, most recently used first (tests).</summary>
    internal IReadOnlyList<string> MembersByRecency()
    {
        lock (gate)
        {
            return recency.Select(e => e.Member).ToList();
        }
    }

    /// <summary>Host shutdown: reads under way are cancelled (the token source stays usable, so a late refresh sees it cancelled).</summary>
    public void Dispose()
    {
        stoppingRegistration.Dispose();
        stopping.Cancel();
    }
}
