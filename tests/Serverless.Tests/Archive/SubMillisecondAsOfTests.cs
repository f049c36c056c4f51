using Serverless.Archive;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Archive;

/// <summary>
/// As-of reads split moments finer than a millisecond exactly, on every read path. Azurite evaluates
/// datetime comparisons in a query filter at millisecond precision (JavaScript dates) where Azure
/// Tables keeps 100 ns; a fact ingested 0.3 ms after a request's moment once reached that request's
/// read through the fact-row query, and the Lumberjack then refused the log ("historyWatermark is
/// after the watermark"). Each read here is as of a moment between two ingest times in one millisecond;
/// the journal's "landed since" likewise tells apart files landed within one millisecond.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class SubMillisecondAsOfTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset T0 = ArchiveHarness.Start.AddDays(-30);

    /// <summary>Ingests the member's first rating at a whole millisecond and a second one 0.3 ms later; returns the moment between them.</summary>
    private static async Task<DateTimeOffset> TwoRatingsWithinAMillisecondAsync(ArchiveHarness h, int member)
    {
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(member, 1, 4, T0, id: $"first:{member}"))]);
        var first = h.Clock.GetUtcNow();
        h.Clock.Advance(TimeSpan.FromTicks(3_000));
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(member, 2, 5, T0.AddHours(1), id: $"second:{member}"))]);
        return first.AddTicks(1_000);
    }

    [Fact]
    public async Task The_fact_row_query_leaves_out_a_fact_ingested_a_fraction_of_a_millisecond_later()
    {
        using var h = new ArchiveHarness(azurite);
        var between = await TwoRatingsWithinAMillisecondAsync(h, 7);

        var history = await h.Reader.HistoryFromFactRowsAsync("7", 10, between);

        Assert.Equal(["first:7"], history.Select(f => f.Fact.Id));
        Assert.All(history, f => Assert.True(f.Fact.IngestTime <= between));
        Assert.Equal(2, (await h.Reader.HistoryFromFactRowsAsync("7", 10, between.AddTicks(2_000))).Count);
    }

    [Fact]
    public async Task The_batch_interface_leaves_out_a_fact_ingested_a_fraction_of_a_millisecond_later()
    {
        using var h = new ArchiveHarness(azurite);
        var between = await TwoRatingsWithinAMillisecondAsync(h, 8);

        var page = await h.Reader.BatchAsync(new BatchQuery("8", null, null, null, null, between, false, 100, null));

        Assert.Equal(["first:8"], page.Facts.Select(f => f.Fact.Id));
    }

    [Fact]
    public async Task The_batch_interface_keeps_event_time_bounds_exact_below_a_millisecond()
    {
        using var h = new ArchiveHarness(azurite);
        var at = T0.AddTicks(4_000);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(9, 1, 4, at, id: "at"))]);

        // From is inclusive and To exclusive, to the tick.
        Assert.Empty((await h.Reader.BatchAsync(new BatchQuery("9", null, null, at.AddTicks(1), null, null, false, 100, null))).Facts);
        Assert.Empty((await h.Reader.BatchAsync(new BatchQuery("9", null, null, null, at, null, false, 100, null))).Facts);
        Assert.Single((await h.Reader.BatchAsync(new BatchQuery("9", null, null, at, at.AddTicks(1), null, false, 100, null))).Facts);
    }

    [Fact]
    public async Task The_journal_lists_a_file_landed_a_fraction_of_a_millisecond_after_the_time_asked_and_not_one_before_it()
    {
        using var h = new ArchiveHarness(azurite);
        var between = await TwoRatingsWithinAMillisecondAsync(h, 10);

        var since = await h.Tables.Journal.SinceAsync(between, default);

        var file = Assert.Single(since);
        Assert.True(file.LandedAt > between);
        Assert.Equal(2, (await h.Tables.Journal.SinceAsync(between.AddTicks(-2_000), default)).Count);
    }
}
