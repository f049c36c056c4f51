using Serverless.Archive;
using Serverless.Events;
using Serverless.Facts;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Archive;

[Collection(AzuriteCollection.Name)]
public sealed class FactArchiveTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset T0 = ArchiveHarness.Start.AddDays(-10);
    private static readonly string[] PrefixTitles = ["1", "10", "1_2", "1.5"];

    [Fact]
    public async Task Bad_events_go_to_the_dead_letter_table_and_the_rest_of_the_batch_is_stored()
    {
        using var h = new ArchiveHarness(azurite);
        var batch = new List<IncomingEvent>
        {
            h.Event(ArchiveHarness.Rating(1, 10, 4, T0)),
            h.Event("{malformed"),
            h.Event("""{"id":"x1","kind":"purchase","member":"1","title":"2","eventTime":"2017-12-01T00:00:00Z"}"""),
            h.Event("""{"id":"x2","kind":"rating","title":"2","value":4,"eventTime":"2017-12-01T00:00:00Z"}"""),
            h.Event("""{"id":"x3","kind":"rating","member":"1","title":"2","value":4,"eventTime":"2030-01-01T00:00:00Z"}"""),
            h.Event(new string('x', 20_000)),
            h.Event(ArchiveHarness.Rating(2, 11, 3, T0)),
        };

        var result = await h.Archive.IngestAsync(batch);

        Assert.Equal(2, result.Stored);
        Assert.Equal(5, result.DeadLettered);
        var letters = await h.Tables.DeadLetters.ReadAsync(Hubs.Facts, 100, default);
        Assert.Equal(5, letters.Count);
        Assert.Contains(letters, l => l.Reason.StartsWith("malformed JSON", StringComparison.Ordinal) && l.Payload == "{malformed");
        Assert.Contains(letters, l => l.Reason.Contains("unknown kind", StringComparison.Ordinal));
        Assert.Contains(letters, l => l.Reason.Contains("needs member and title", StringComparison.Ordinal));
        Assert.Contains(letters, l => l.Reason.Contains("after ingest time", StringComparison.Ordinal));
        Assert.Contains(letters, l => l.Reason.Contains("payload too large", StringComparison.Ordinal));
        Assert.Single(await h.Reader.HistoryAsync("1", 10));
        Assert.Single(await h.Reader.HistoryAsync("2", 10));
    }

    [Fact]
    public async Task The_same_batch_delivered_twice_leaves_the_archive_as_one_delivery_does()
    {
        using var clean = new ArchiveHarness(azurite);
        using var twice = new ArchiveHarness(azurite);
        var batch = Enumerable.Range(0, 150).Select(i => ArchiveHarness.Rating(i % 3, 100 + i, 0.5 + (i % 10) * 0.5, T0.AddMinutes(i))).ToList();
        var bad = """{"id":"bad","kind":"rating"}""";

        await clean.Archive.IngestAsync([.. batch.Select(clean.Event), clean.Event(bad)]);
        var events = batch.Select(twice.Event).Append(twice.Event(bad)).ToList();
        var first = await twice.Archive.IngestAsync(events);
        var second = await twice.Archive.IngestAsync(events);

        Assert.Equal(150, first.Stored);
        Assert.Equal(0, second.Stored);
        Assert.Equal(150, second.Duplicates);
        Assert.Equal(await clean.DumpAsync(), await twice.DumpAsync());
        Assert.Single(await twice.Tables.DeadLetters.ReadAsync(Hubs.Facts, 10, default));
    }

    [Fact]
    public async Task A_batch_that_failed_half_way_and_is_redelivered_equals_a_clean_delivery()
    {
        using var clean = new ArchiveHarness(azurite);
        using var broken = new ArchiveHarness(azurite);
        var facts = Enumerable.Range(0, 300).Select(i => ArchiveHarness.Rating(i % 7, 1000 + i, 4, T0.AddSeconds(i))).ToList();

        await clean.Archive.IngestAsync(facts.Select(clean.Event).ToList());
        var events = facts.Select(broken.Event).ToList();
        // The first attempt stored some partitions and then failed: only part of the batch is in.
        await broken.Archive.IngestAsync(events.Where((_, i) => i % 7 < 3 || i < 40).ToList());
        var redelivered = await broken.Archive.IngestAsync(events);

        Assert.True(redelivered.Duplicates > 0);
        Assert.Equal(300, (await broken.DumpFactRowsAsync()).Count);
        Assert.Equal(await clean.DumpAsync(), await broken.DumpAsync());
    }

    [Fact]
    public async Task Duplicated_ids_inside_one_batch_store_one_row()
    {
        using var h = new ArchiveHarness(azurite);
        var fact = ArchiveHarness.Rating(5, 50, 4, T0);
        var result = await h.Archive.IngestAsync([h.Event(fact), h.Event(fact), h.Event(fact)]);
        Assert.Equal(1, result.Stored);
        Assert.Equal(2, result.Duplicates);
        Assert.Single(await h.DumpFactRowsAsync());
    }

    [Fact]
    public async Task A_correction_supersedes_without_erasing_and_as_of_queries_see_what_was_known_then()
    {
        using var h = new ArchiveHarness(azurite);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(7, 70, 2, T0))]);
        var beforeCorrection = h.Clock.GetUtcNow();
        h.Clock.Advance(TimeSpan.FromHours(1));
        var result = await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(7, 70, 5, T0, id: "rating:7:70:v2", supersedes: "rating:7:70"))]);
        Assert.Equal(1, result.Corrections);

        var now = await h.Reader.HistoryAsync("7", 10);
        Assert.Equal(5, Assert.Single(now).Fact.Value);
        var then = await h.Reader.HistoryAsync("7", 10, beforeCorrection);
        Assert.Equal(2, Assert.Single(then).Fact.Value);

        var all = await h.Reader.BatchAsync(new BatchQuery("7", null, null, null, null, null, true, 10, null));
        Assert.Equal(2, all.Facts.Count);
        var old = all.Facts.Single(f => f.Fact.Id == "rating:7:70");
        Assert.Equal("rating:7:70:v2", old.SupersededBy);
        Assert.Equal(beforeCorrection.AddHours(1), old.SupersededAt);

        var redelivered = await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(7, 70, 5, T0, id: "rating:7:70:v2", supersedes: "rating:7:70"))]);
        Assert.Equal(0, redelivered.Corrections);
        Assert.Equal(2, (await h.DumpFactRowsAsync()).Count);
    }

    [Fact]
    public async Task A_retraction_hides_the_fact_from_now_on_but_not_from_the_past()
    {
        using var h = new ArchiveHarness(azurite);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(8, 80, 4, T0)), h.Event(ArchiveHarness.Rating(8, 81, 4, T0))]);
        var before = h.Clock.GetUtcNow();
        h.Clock.Advance(TimeSpan.FromMinutes(5));
        await h.Archive.IngestAsync([h.Event(new FactEnvelope { Id = "retract:8:80", Kind = "retraction", Member = "8", Supersedes = "rating:8:80", EventTime = h.Clock.GetUtcNow() })]);

        Assert.Equal(["rating:8:81"], (await h.Reader.HistoryAsync("8", 10)).Select(f => f.Fact.Id));
        Assert.Equal(2, (await h.Reader.HistoryAsync("8", 10, before)).Count);
    }

    [Fact]
    public async Task A_correction_of_an_unknown_fact_is_dead_lettered()
    {
        using var h = new ArchiveHarness(azurite);
        var result = await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(9, 90, 4, T0, id: "fix", supersedes: "never-seen"))]);
        Assert.Equal(1, result.DeadLettered);
        Assert.Contains("supersedes unknown fact", Assert.Single(await h.Tables.DeadLetters.ReadAsync(Hubs.Facts, 10, default)).Reason, StringComparison.Ordinal);
        Assert.Empty(await h.DumpAsync());
    }

    [Fact]
    public async Task A_late_event_is_invisible_to_queries_as_of_before_it_arrived()
    {
        using var h = new ArchiveHarness(azurite);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(11, 1, 4, T0))]);
        var asOf = h.Clock.GetUtcNow();
        h.Clock.Advance(TimeSpan.FromDays(2));
        // Happened before asOf, learned after it.
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(11, 2, 4, T0.AddHours(1)))]);

        Assert.Equal(["rating:11:1"], (await h.Reader.HistoryAsync("11", 10, asOf)).Select(f => f.Fact.Id));
        Assert.Equal(["rating:11:2", "rating:11:1"], (await h.Reader.HistoryAsync("11", 10)).Select(f => f.Fact.Id));
        var page = await h.Reader.BatchAsync(new BatchQuery(null, null, null, null, null, asOf, false, 100, null));
        Assert.Equal(["rating:11:1"], page.Facts.Select(f => f.Fact.Id));
    }

    [Fact]
    public async Task History_is_newest_first_limited_and_the_catalog_entry_is_the_newest_known()
    {
        using var h = new ArchiveHarness(azurite);
        await h.Archive.IngestAsync(Enumerable.Range(0, 30).Select(i => h.Event(ArchiveHarness.Rating(12, i, 3, T0.AddMinutes(i)))).ToList());
        await h.Archive.IngestAsync([h.Event(new FactEnvelope { Id = "catalog:5:a", Kind = "catalog", Title = "5", EventTime = T0, Attributes = new() { ["name"] = "Old name" } })]);
        var beforeRename = h.Clock.GetUtcNow();
        h.Clock.Advance(TimeSpan.FromMinutes(1));
        await h.Archive.IngestAsync([h.Event(new FactEnvelope { Id = "catalog:5:b", Kind = "catalog", Title = "5", EventTime = T0.AddDays(1), Attributes = new() { ["name"] = "New name" } })]);

        var history = await h.Reader.HistoryAsync("12", 5);
        Assert.Equal(Enumerable.Range(25, 5).Reverse().Select(i => $"rating:12:{i}"), history.Select(f => f.Fact.Id));
        Assert.Equal("New name", (await h.Reader.CatalogEntryAsync("5"))!.Fact.Attributes!["name"]);
        Assert.Equal("Old name", (await h.Reader.CatalogEntryAsync("5", beforeRename) ?? throw new InvalidOperationException()).Fact.Attributes!["name"]);
        Assert.Null(await h.Reader.CatalogEntryAsync("6"));
    }

    [Fact]
    public async Task Catalog_entries_of_titles_sharing_a_prefix_do_not_mix()
    {
        using var h = new ArchiveHarness(azurite);
        await h.Archive.IngestAsync(PrefixTitles
            .Select(t => h.Event(new FactEnvelope { Id = $"catalog:{t}", Kind = "catalog", Title = t, EventTime = T0, Attributes = new() { ["name"] = $"Title {t}" } }))
            .ToList());

        foreach (var t in PrefixTitles)
        {
            Assert.Equal($"Title {t}", (await h.Reader.CatalogEntryAsync(t))!.Fact.Attributes!["name"]);
        }

        var page = await h.Reader.BatchAsync(new BatchQuery(null, "1", Serverless.Facts.FactKind.Catalog, null, null, null, false, 100, null));
        Assert.Equal(["catalog:1"], page.Facts.Select(f => f.Fact.Id));
    }
}
