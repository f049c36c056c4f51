using Microsoft.Extensions.Primitives;
using Serverless.Requests;
using Serverless.Archive;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Archive;

[Collection(AzuriteCollection.Name)]
public sealed class BatchInterfaceTests(AzuriteFixture azurite)
{
    private static RequestQuery Q(Dictionary<string, StringValues> query) =>
        new(query.Select(q => KeyValuePair.Create(q.Key, (IReadOnlyList<string?>)q.Value.ToArray())));

    private static readonly DateTimeOffset T0 = ArchiveHarness.Start.AddDays(-30);

    private static async Task Seed(ArchiveHarness h, int members, int perMember)
    {
        var facts = Enumerable.Range(0, members * perMember)
            .Select(i => ArchiveHarness.Rating(i % members, i, 3.5, T0.AddHours(i)))
            .Select(h.Event)
            .ToList();
        await h.Archive.IngestAsync(facts);
    }

    [Fact]
    public async Task Paging_returns_every_fact_once_and_all_pages_share_one_as_of()
    {
        using var h = new ArchiveHarness(azurite);
        await Seed(h, members: 5, perMember: 23);
        var seen = new List<string>();
        string? continuation = null;
        DateTimeOffset? asOf = null;
        var pages = 0;
        do
        {
            var page = await h.Reader.BatchAsync(new BatchQuery(null, null, null, null, null, null, false, 10, continuation));
            asOf ??= page.AsOf;
            Assert.Equal(asOf, page.AsOf);
            seen.AddRange(page.Facts.Select(f => f.Fact.Id));
            continuation = page.Continuation;
            pages++;
            h.Clock.Advance(TimeSpan.FromMinutes(1));
        }
        while (continuation is not null);

        Assert.Equal(115, seen.Count);
        Assert.Equal(115, seen.Distinct().Count());
        Assert.True(pages >= 12);
    }

    [Fact]
    public async Task Event_time_range_and_member_filters_apply()
    {
        using var h = new ArchiveHarness(azurite);
        await Seed(h, members: 4, perMember: 10);
        var page = await h.Reader.BatchAsync(new BatchQuery("2", null, null, T0.AddHours(10), T0.AddHours(30), null, false, 100, null));
        Assert.Equal(["rating:2:26", "rating:2:22", "rating:2:18", "rating:2:14", "rating:2:10"], page.Facts.Select(f => f.Fact.Id));
    }

    [Fact]
    public async Task A_catalog_query_reads_only_the_catalog_partition()
    {
        using var h = new ArchiveHarness(azurite);
        await Seed(h, members: ArchiveReader.MaxQueriesPerPage + 8, perMember: 1);
        await h.Archive.IngestAsync(Enumerable.Range(0, 3).Select(t => h.Event(new Serverless.Facts.FactEnvelope
        {
            Id = $"catalog:{t}", Kind = "catalog", Title = $"{t}", EventTime = T0, Attributes = new() { ["name"] = $"Title {t}" },
        })).ToList());

        // Every member partition walked would take more queries than one page may make: one page, no continuation, means one partition was read.
        var page = await h.Reader.BatchAsync(new BatchQuery(null, null, Serverless.Facts.FactKind.Catalog, null, null, null, false, 100, null));
        Assert.Equal(["catalog:0", "catalog:1", "catalog:2"], page.Facts.Select(f => f.Fact.Id).Order(StringComparer.Ordinal));
        Assert.Null(page.Continuation);

        // Without the kind, the walk over every partition needs more than one page.
        Assert.NotNull((await h.Reader.BatchAsync(new BatchQuery(null, null, null, null, null, null, false, 1000, null))).Continuation);
    }

    [Theory]
    [InlineData("not-a-token")]
    [InlineData("eyJ2IjoxfQ")]
    [InlineData("%%%%")]
    public async Task Bad_paging_tokens_are_refused(string token)
    {
        using var h = new ArchiveHarness(azurite);
        await Assert.ThrowsAsync<ArchiveQueryException>(() => h.Reader.BatchAsync(new BatchQuery(null, null, null, null, null, null, false, 10, token)));
    }

    [Fact]
    public async Task A_token_altered_anywhere_is_refused_and_one_signed_with_another_key_too()
    {
        using var h = new ArchiveHarness(azurite);
        await Seed(h, members: 1, perMember: 10);
        var query = new BatchQuery("0", null, null, null, null, null, false, 3, null);
        var first = await h.Reader.BatchAsync(query);
        var token = first.Continuation!;
        var bytes = System.Buffers.Text.Base64Url.DecodeFromChars(token);
        var json = System.Text.Json.Nodes.JsonNode.Parse(bytes.AsSpan(0, bytes.Length - 32))!.AsObject();
        Assert.NotNull(json["C"]);

        string Resigned(byte[] body, byte[] mac) => System.Buffers.Text.Base64Url.EncodeToString([.. body, .. mac]);
        var garbageCursor = json.DeepClone().AsObject();
        garbageCursor["C"] = "1!1!garbage";
        var blankCursor = json.DeepClone().AsObject();
        blankCursor["C"] = null;
        var mac = bytes[^32..];
        var otherKey = new PageToken("m_0", (string?)json["C"], (string)json["Q"]!, first.AsOf).Encode(System.Text.Encoding.UTF8.GetBytes("another-key-of-sixteen+"));
        string[] altered =
        [
            Resigned(System.Text.Encoding.UTF8.GetBytes(garbageCursor.ToJsonString()), mac),
            Resigned(System.Text.Encoding.UTF8.GetBytes(blankCursor.ToJsonString()), mac),
            otherKey,
            .. Enumerable.Range(0, bytes.Length).Select(i => { var b = (byte[])bytes.Clone(); b[i] ^= 1; return System.Buffers.Text.Base64Url.EncodeToString(b); }),
        ];

        foreach (var t in altered)
        {
            var ex = await Assert.ThrowsAsync<ArchiveQueryException>(() => h.Reader.BatchAsync(query with { Continuation = t }));
            Assert.Contains("continuation token", ex.Message, StringComparison.Ordinal);
        }

        Assert.Equal(3, (await h.Reader.BatchAsync(query with { Continuation = token })).Facts.Count);
    }

    [Fact]
    public async Task Offline_reads_wait_their_turn_when_batch_capacity_is_used_up()
    {
        using var h = new ArchiveHarness(azurite, o => { o.BatchMaxConcurrency = 1; o.BatchQueueLimit = 0; });
        await Seed(h, members: 3, perMember: 20);
        var query = new BatchQuery(null, null, null, null, null, null, false, 5, null);

        // Eight jobs at once against one permit and no queue: each is refused many times on the way.
        var reads = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => h.Reader.ReadAllAsync(query))));

        Assert.All(reads, r => Assert.Equal(60, r.Select(f => f.Fact.Id).Distinct().Count()));
        Assert.All(reads, r => Assert.Equal(60, r.Count));
    }

    [Fact]
    public async Task An_offline_read_gives_up_with_a_clear_failure_after_its_total_wait()
    {
        using var h = new ArchiveHarness(azurite, o => { o.BatchPagesPerSecond = 0.1; o.BatchQueueLimit = 0; });
        await Seed(h, members: 1, perMember: 10);
        var query = new BatchQuery("0", null, null, null, null, null, false, 3, null);

        // The first page takes the only token; the next comes in 10 s, beyond the 1 s this read may wait.
        var ex = await Assert.ThrowsAsync<TimeoutException>(() => h.Reader.ReadAllAsync(query, null, TimeSpan.FromSeconds(1)));
        Assert.Contains("stayed busy", ex.Message, StringComparison.Ordinal);
        Assert.IsType<ArchiveThrottledException>(ex.InnerException);
    }

    [Fact]
    public async Task A_token_from_another_query_is_refused()
    {
        using var h = new ArchiveHarness(azurite);
        await Seed(h, members: 2, perMember: 10);
        var first = await h.Reader.BatchAsync(new BatchQuery("1", null, null, null, null, null, false, 3, null));
        Assert.NotNull(first.Continuation);
        var ex = await Assert.ThrowsAsync<ArchiveQueryException>(() => h.Reader.BatchAsync(new BatchQuery("0", null, null, null, null, null, false, 3, first.Continuation)));
        Assert.Contains("different query", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_filter_injection_in_the_member_id_reads_no_other_members_data()
    {
        using var h = new ArchiveHarness(azurite);
        await Seed(h, members: 3, perMember: 5);

        var injected = "1' or PartitionKey ne '";
        Assert.Empty(await h.Reader.HistoryAsync(injected, 50));
        Assert.Empty((await h.Reader.BatchAsync(new BatchQuery(injected, null, null, null, null, null, false, 50, null))).Facts);
        var http = Assert.Throws<ArchiveQueryException>(() => ArchiveRequests.History(injected, RequestQuery.Empty, h.Options));
        Assert.Contains("character outside", http.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Batch_load_beyond_the_queue_is_refused_with_a_retry_after()
    {
        using var h = new ArchiveHarness(azurite, o => { o.BatchPagesPerSecond = 1; o.BatchMaxConcurrency = 1; o.BatchQueueLimit = 1; });
        await Seed(h, members: 2, perMember: 3);
        var query = new BatchQuery(null, null, null, null, null, null, false, 10, null);

        var attempts = Enumerable.Range(0, 6).Select(_ => h.Reader.BatchAsync(query)).ToList();
        var outcomes = await Task.WhenAll(attempts.Select(async t =>
        {
            try { await t; return (TimeSpan?)null; }
            catch (ArchiveThrottledException ex) { return ex.RetryAfter; }
        }));

        Assert.Contains(outcomes, o => o is null);
        Assert.Contains(outcomes, o => o is { } after && after > TimeSpan.Zero);
    }

    [Theory]
    [InlineData("limit", "0", "limit must be")]
    [InlineData("limit", "100000", "limit must be")]
    [InlineData("limit", "ten", "whole number")]
    [InlineData("asOf", "yesterday", "ISO 8601")]
    [InlineData("asOf", "2018-01-01T00:00:00", "ISO 8601")]
    [InlineData("color", "red", "unknown query parameter")]
    public void Bad_live_query_strings_are_refused(string key, string value, string reason)
    {
        var query = Q(new Dictionary<string, StringValues> { [key] = value });
        var ex = Assert.Throws<ArchiveQueryException>(() => ArchiveRequests.History("1", query, new ArchiveOptions()));
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("from=2018-02-01T00:00:00Z&to=2018-01-01T00:00:00Z", "from must be before to")]
    [InlineData("pageSize=5000", "pageSize must be")]
    [InlineData("kind=purchase", "not rating, catalog or retraction")]
    [InlineData("member=1&title=2", "not both")]
    [InlineData("includeSuperseded=yes", "true or false")]
    [InlineData("member=1&member=2", "given once")]
    public void Bad_batch_query_strings_are_refused(string queryString, string reason)
    {
        var query = Q(Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(queryString));
        var ex = Assert.Throws<ArchiveQueryException>(() => ArchiveRequests.Batch(query, new ArchiveOptions()));
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("limit=ten", "whole number")]
    [InlineData("limit=0", "limit must be")]
    [InlineData("source=orders", "source must be")]
    [InlineData("color=red", "unknown query parameter")]
    public void Bad_dead_letter_queries_are_refused(string queryString, string reason)
    {
        var query = Q(Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(queryString));
        var ex = Assert.Throws<ArchiveQueryException>(() => ArchiveRequests.DeadLetters(query));
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dead_letter_queries_default_to_the_facts_source()
    {
        Assert.Equal(("facts", 100), ArchiveRequests.DeadLetters(RequestQuery.Empty));
        var query = Q(Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery("source=feature-log&limit=5"));
        Assert.Equal(("feature-log", 5), ArchiveRequests.DeadLetters(query));
    }
}
