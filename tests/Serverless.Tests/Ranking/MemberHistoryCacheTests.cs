using Microsoft.Extensions.Options;
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
}
