using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Serverless.Archive;
using Serverless.Facts;
using Serverless.Ranking;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Ranking;

[Collection(AzuriteCollection.Name)]
public sealed class MemberHistoryCacheTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task Histories_are_reused_within_the_ttl_only_for_requests_at_or_after_the_fetch()
    {
        using var h = new ArchiveHarness(azurite);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(1, 1, 4, ArchiveHarness.Start.AddDays(-1)))]);
        var cache = new MemberHistoryCache(h.Reader, Options.Create(new ServingOptions { HistoryCacheTtl = TimeSpan.FromSeconds(10) }), h.Clock);
        var now = h.Clock.GetUtcNow();

        Assert.Single((await cache.HistoryAsync("1", 50, now, default)).Facts);
        h.Clock.Advance(TimeSpan.FromSeconds(1));
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(1, 2, 4, ArchiveHarness.Start))]);

        var cached = await cache.HistoryAsync("1", 50, h.Clock.GetUtcNow(), default);   // cached: fetched before the new fact
        Assert.Single(cached.Facts);
        Assert.Equal(now, cached.ReadAt);
        Assert.True(cached.ReadAt < h.Clock.GetUtcNow());
        Assert.Equal(1, cache.Hits);
        Assert.Empty((await cache.HistoryAsync("1", 50, now.AddDays(-2), default)).Facts);        // older than the fetch: read through
        Assert.Equal(1, cache.Hits);

        h.Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(2, (await cache.HistoryAsync("1", 50, h.Clock.GetUtcNow(), default)).Facts.Count); // expired: read again
        Assert.Equal(3, cache.Misses);
    }

    [Fact]
    public async Task A_zero_ttl_turns_the_cache_off()
    {
        using var h = new ArchiveHarness(azurite);
        var cache = new MemberHistoryCache(h.Reader, Options.Create(new ServingOptions { HistoryCacheTtl = TimeSpan.Zero }), h.Clock);
        await cache.HistoryAsync("1", 50, h.Clock.GetUtcNow(), default);
        await cache.HistoryAsync("1", 50, h.Clock.GetUtcNow(), default);
        Assert.Equal(0, cache.Hits);
        Assert.Equal(2, cache.Misses);
    }

    [Fact]
    public async Task A_read_as_of_the_future_is_a_read_as_of_now_and_reads_back_the_same_facts()
    {
        using var h = new ArchiveHarness(azurite);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(1, 1, 4, ArchiveHarness.Start.AddDays(-1)))]);
        var cache = new MemberHistoryCache(h.Reader, Options.Create(new ServingOptions { HistoryCacheTtl = TimeSpan.FromSeconds(10) }), h.Clock);
        var now = h.Clock.GetUtcNow();

        var read = await cache.HistoryAsync("1", 50, now.AddSeconds(30), default);
        Assert.Equal(now, read.ReadAt);

        // A fact ingested later is not in what was served, and a read as of ReadAt leaves it out too.
        h.Clock.Advance(TimeSpan.FromSeconds(5));
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(1, 2, 4, ArchiveHarness.Start))]);
        Assert.Equal(read.Facts.Select(f => f.Fact.Id), (await h.Reader.HistoryAsync("1", 50, read.ReadAt)).Select(f => f.Fact.Id));
        Assert.Equal(2, (await h.Reader.HistoryAsync("1", 50)).Count);
    }

    private static readonly DateTimeOffset Now = new(2018, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static MemberHistoryCache Cache(ILiveHistory source, FakeTimeProvider clock, Action<ServingOptions>? configure = null)
    {
        var options = new ServingOptions { HistoryCacheTtl = TimeSpan.FromSeconds(10), HistoryRefreshAhead = TimeSpan.FromSeconds(2) };
        configure?.Invoke(options);
        return new MemberHistoryCache(source, Options.Create(options), clock);
    }

    [Fact]
    public async Task Concurrent_misses_for_one_member_make_one_storage_read_and_share_it()
    {
        var clock = new FakeTimeProvider(Now);
        var source = new SlowHistory(clock) { Held = true };
        using var cache = Cache(source, clock);

        var waiting = Enumerable.Range(0, 16).Select(_ => cache.HistoryAsync("1", 500, clock.GetUtcNow(), default)).ToList();
        var other = cache.HistoryAsync("2", 500, clock.GetUtcNow(), default);
        await source.StartedAsync(2);

        Assert.Equal(2, source.Calls);
        var stats = cache.Stats();
        Assert.Equal(2, stats.StorageReads);
        Assert.Equal(2, stats.InFlight);
        Assert.Equal(17, stats.Misses);
        Assert.All(waiting, t => Assert.False(t.IsCompleted));

        source.Release();
        var reads = await Task.WhenAll(waiting);
        Assert.All(reads, r => Assert.Same(reads[0], r));
        Assert.Equal("read 1", Assert.Single(reads[0].Facts).Fact.Id);
        Assert.Equal("read 2", Assert.Single((await other).Facts).Fact.Id);
        Assert.Equal(0, cache.Stats().InFlight);
        Assert.Equal(2, cache.Stats().Entries);
    }

    [Fact]
    public async Task A_read_that_outlives_the_request_deadline_still_completes_and_fills_the_cache()
    {
        var clock = new FakeTimeProvider(Now);
        var source = new SlowHistory(clock) { Held = true };
        using var cache = Cache(source, clock);

        using var deadline = new CancellationTokenSource();
        var request = cache.HistoryAsync("1", 500, clock.GetUtcNow(), deadline.Token);
        await source.StartedAsync(1);
        deadline.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);

        // The deadline ended the request's wait, not the read.
        Assert.False(source.Tokens.Single().IsCancellationRequested);
        Assert.Equal(1, cache.Stats().InFlight);
        source.Release();
        await cache.WhenIdleAsync();

        var next = await cache.HistoryAsync("1", 500, clock.GetUtcNow(), default);
        Assert.Equal("read 1", Assert.Single(next.Facts).Fact.Id);
        Assert.Equal(1, source.Calls);
        Assert.Equal(1, cache.Hits);
        Assert.Equal(1, cache.Stats().Entries);
    }

    [Fact]
    public async Task A_shutdown_cancels_the_read()
    {
        var clock = new FakeTimeProvider(Now);
        var source = new SlowHistory(clock) { Held = true };
        var cache = Cache(source, clock);
        var request = cache.HistoryAsync("1", 500, clock.GetUtcNow(), default);
        await source.StartedAsync(1);

        cache.Dispose();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        Assert.True(source.Tokens.Single().IsCancellationRequested);
        Assert.Equal(0, cache.Stats().Entries);
    }

    [Fact]
    public async Task An_entry_close_to_its_ttl_is_served_while_it_is_read_again_in_the_background()
    {
        var clock = new FakeTimeProvider(Now);
        var source = new SlowHistory(clock);
        using var cache = Cache(source, clock);
        var first = await cache.HistoryAsync("1", 500, clock.GetUtcNow(), default);

        clock.Advance(TimeSpan.FromSeconds(7));
        Assert.Same(first, await cache.HistoryAsync("1", 500, clock.GetUtcNow(), default));
        Assert.Equal(1, cache.Stats().StorageReads);

        // Within 2 s of the 10 s TTL: the old entry is served, one refresh starts (not one per hit).
        clock.Advance(TimeSpan.FromSeconds(1.5));
        source.Held = true;
        var refreshedAt = clock.GetUtcNow();
        Assert.Same(first, await cache.HistoryAsync("1", 500, clock.GetUtcNow(), default));
        Assert.Same(first, await cache.HistoryAsync("1", 500, clock.GetUtcNow(), default));
        Assert.Equal(2, cache.Stats().StorageReads);
        Assert.Equal(1, cache.Stats().InFlight);

        source.Release();
        await cache.WhenIdleAsync();
        var refreshed = await cache.HistoryAsync("1", 500, clock.GetUtcNow(), default);
        Assert.Equal(refreshedAt, refreshed.ReadAt);
        Assert.Equal("read 2", Assert.Single(refreshed.Facts).Fact.Id);
        Assert.Equal(2, source.Calls);
        Assert.Equal(4, cache.Hits);
        Assert.Equal(1, cache.Misses);

        // Past the TTL of the refreshed entry with no hit in between: an ordinary miss.
        clock.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal("read 3", Assert.Single((await cache.HistoryAsync("1", 500, clock.GetUtcNow(), default)).Facts).Fact.Id);
        Assert.Equal(2, cache.Misses);
    }

    [Fact]
    public async Task At_capacity_the_least_recently_used_member_goes_and_the_rest_stay()
    {
        var clock = new FakeTimeProvider(Now);
        var source = new SlowHistory(clock);
        using var cache = Cache(source, clock, o => o.HistoryCacheSize = 3);
        async Task Read(string member) => await cache.HistoryAsync(member, 500, clock.GetUtcNow(), default);

        await Read("a");
        await Read("b");
        await Read("c");
        await Read("a");                        // a is used again: b is now the least recently used
        Assert.Equal(["a", "c", "b"], cache.MembersByRecency());
        await Read("d");
        Assert.Equal(["d", "a", "c"], cache.MembersByRecency());
        await Read("e");
        Assert.Equal(["e", "d", "a"], cache.MembersByRecency());
        Assert.Equal(3, cache.Stats().Entries);

        Assert.Equal(5, source.Calls);
        await Read("a");                        // still held
        Assert.Equal(5, source.Calls);
        await Read("b");                        // evicted: read again
        Assert.Equal(6, source.Calls);
        Assert.Equal(["b", "a", "e"], cache.MembersByRecency());
    }

    [Fact]
    public async Task Stats_give_the_reads_of_the_last_minute_and_their_p99()
    {
        var clock = new FakeTimeProvider(Now);
        var source = new SlowHistory(clock) { Held = true };
        using var cache = Cache(source, clock);
        Assert.Equal(new HistoryCacheStats(0, 0, 0, 0, 0, 0, null), cache.Stats());

        // 100 reads: 98 take 10 ms, one 40 ms, one 2 s (durations on the fake clock).
        for (var i = 0; i < 100; i++)
        {
            var read = cache.HistoryAsync($"m{i}", 500, clock.GetUtcNow(), default);
            await source.StartedAsync(i + 1);
            clock.Advance(TimeSpan.FromMilliseconds(i switch { 50 => 2000, 70 => 40, _ => 10 }));
            source.Release();
            await read;
            source.Held = true;
        }

        var stats = cache.Stats();
        Assert.Equal(100, stats.ReadsLastMinute);
        Assert.Equal(100, stats.StorageReads);
        Assert.Equal(100, stats.Entries);
        Assert.InRange(stats.ReadP99MsLastMinute!.Value, 40, 40 * 1.1);

        clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(0, cache.Stats().ReadsLastMinute);
        Assert.Null(cache.Stats().ReadP99MsLastMinute);
    }

    /// <summary>A live history whose reads can be held until released; the n-th read returns one fact "read n".</summary>
    private sealed class SlowHistory(TimeProvider clock) : ILiveHistory
    {
        private readonly Lock gate = new();
        private TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource<int> started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int calls;

        public bool Held { get; set; }
        public int Calls => Volatile.Read(ref calls);
        public List<CancellationToken> Tokens { get; } = [];

        public void Release()
        {
            lock (gate)
            {
                release.TrySetResult();
                release = new(TaskCreationOptions.RunContinuationsAsynchronously);
                Held = false;
            }
        }

        /// <summary>Completes once <paramref name="count"/> reads have started.</summary>
        public async Task StartedAsync(int count)
        {
            while (true)
            {
                Task<int> next;
                lock (gate)
                {
                    if (calls >= count)
                    {
                        return;
                    }

                    next = started.Task;
                }

                await next;
            }
        }

        public async Task<IReadOnlyList<ArchivedFact>> HistoryAsync(string member, int limit, DateTimeOffset? asOf = null, CancellationToken cancellationToken = default)
        {
            Task wait;
            int n;
            lock (gate)
            {
                n = ++calls;
                Tokens.Add(cancellationToken);
                wait = Held ? release.Task : Task.CompletedTask;
                var signal = started;
                started = new(TaskCreationOptions.RunContinuationsAsynchronously);
                signal.TrySetResult(n);
            }

            await wait.WaitAsync(cancellationToken);
            var at = asOf ?? clock.GetUtcNow();
            return [new ArchivedFact(new Fact($"read {n}", FactKind.Rating, member, "1", 4, at, at), null, null)];
        }
    }
}
