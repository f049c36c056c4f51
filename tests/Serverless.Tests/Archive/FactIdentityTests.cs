using System.Text;
using Serverless.Archive;
using Serverless.Events;
using Serverless.Facts;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Archive;

/// <summary>
/// A fact's identity is its id (issue 10, item 1): an exact resend is a duplicate; the same id with
/// any other content is dead-lettered ("id reused with different content"), never stored, never
/// dropped silently. And large refused payloads are kept whole (item 2).
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class FactIdentityTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset T0 = ArchiveHarness.Start.AddDays(-10);

    private static async Task<IReadOnlyList<DeadLetter>> Letters(ArchiveHarness h) => await h.Tables.DeadLetters.ReadAsync(Hubs.Facts, 100, default);

    /// <summary>The live read from the recent-history entity equals the read from the fact rows.</summary>
    private static async Task AssertEntityAgreesWithRows(ArchiveHarness h, string member)
    {
        var fromEntity = await h.Reader.HistoryAsync(member, 100);
        var fromRows = await h.Reader.HistoryFromFactRowsAsync(member, 100, h.Clock.GetUtcNow());
        Assert.Equal(fromRows.Select(f => f.Fact), fromEntity.Select(f => f.Fact));
    }

    [Fact]
    public async Task The_same_id_and_event_time_with_another_value_is_dead_lettered_not_dropped()
    {
        using var h = new ArchiveHarness(azurite);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(1, 10, 2, T0))]);
        h.Clock.Advance(TimeSpan.FromMinutes(1));

        var result = await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(1, 10, 5, T0))]);

        Assert.Equal(1, result.DeadLettered);
        Assert.Equal(0, result.Duplicates);
        var letter = Assert.Single(await Letters(h));
        Assert.StartsWith(FactIdentity.ReusedReason, letter.Reason, StringComparison.Ordinal);
        Assert.Contains("value", letter.Reason, StringComparison.Ordinal);
        Assert.Contains("\"value\":5", letter.Payload, StringComparison.Ordinal);
        Assert.Equal(2, Assert.Single(await h.Reader.HistoryAsync("1", 10)).Fact.Value);
        await AssertEntityAgreesWithRows(h, "1");
    }

    [Fact]
    public async Task A_member_stored_before_identities_entities_existed_still_refuses_a_reused_id_and_costs_one_entity_per_transaction_after()
    {
        using var h = new ArchiveHarness(azurite);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(3, 30, 2, T0)), h.Event(ArchiveHarness.Rating(3, 31, 4, T0))]);

        // As if stored before: no identities entity; a new instance of the archive (nothing kept in memory).
        await h.Tables.Facts.DeleteEntityAsync("m_3", MemberIdentities.RowKey);
        var other = new FactArchive(h.Tables, new FactValidator(new FactLimits()), h.Options, h.Clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<FactArchive>.Instance);
        h.Clock.Advance(TimeSpan.FromMinutes(1));
        var result = await other.IngestAsync([h.Event(ArchiveHarness.Rating(3, 30, 2, T0.AddHours(5))), h.Event(ArchiveHarness.Rating(3, 32, 5, T0))]);

        Assert.Equal(1, result.DeadLettered);
        Assert.Equal(1, result.Stored);
        Assert.Contains("eventTime", Assert.Single(await Letters(h)).Reason, StringComparison.Ordinal);
        var ids = MemberIdentities.FromEntity((await h.Tables.Facts.GetEntityAsync<Azure.Data.Tables.TableEntity>("m_3", MemberIdentities.RowKey)).Value);
        Assert.Equal(3, ids.Count);
        Assert.DoesNotContain(await h.DumpAsync(), r => r.Contains("RowKey=" + FactIdentity.RowKeyPrefix, StringComparison.Ordinal));
        await AssertEntityAgreesWithRows(h, "3");
    }

    [Fact]
    public async Task The_same_id_with_another_event_time_never_becomes_a_second_current_row()
    {
        using var h = new ArchiveHarness(azurite);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(2, 20, 2, T0))]);
        h.Clock.Advance(TimeSpan.FromMinutes(1));

        var result = await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(2, 20, 2, T0.AddHours(3)))]);

        Assert.Equal(1, result.DeadLettered);
        Assert.Contains("eventTime", Assert.Single(await Letters(h)).Reason, StringComparison.Ordinal);
        Assert.Single(await h.DumpFactRowsAsync());

        // A later correction supersedes the one version: the current view shows one value for the rating.
        h.Clock.Advance(TimeSpan.FromMinutes(1));
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(2, 20, 4, T0, id: "rating:2:20:v2", supersedes: "rating:2:20"))]);
        Assert.Equal(4, Assert.Single(await h.Reader.HistoryAsync("2", 10)).Fact.Value);
        await AssertEntityAgreesWithRows(h, "2");
    }

    [Fact]
    public async Task An_exact_resend_is_a_duplicate_even_with_a_later_enqueued_time()
    {
        using var h = new ArchiveHarness(azurite);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(3, 30, 4, T0))]);
        var before = await h.DumpAsync();
        h.Clock.Advance(TimeSpan.FromHours(1));

        var result = await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(3, 30, 4, T0))]);

        Assert.Equal((0, 1, 0), (result.Stored, result.Duplicates, result.DeadLettered));
        Assert.Empty(await Letters(h));
        Assert.Equal(before, await h.DumpAsync());
    }

    [Fact]
    public async Task Inside_one_batch_the_first_content_is_stored_and_other_content_under_its_id_is_dead_lettered()
    {
        using var h = new ArchiveHarness(azurite);
        var result = await h.Archive.IngestAsync(
        [
            h.Event(ArchiveHarness.Rating(4, 40, 4, T0)),
            h.Event(ArchiveHarness.Rating(4, 40, 4, T0)),
            h.Event(ArchiveHarness.Rating(4, 40, 1, T0)),
        ]);

        Assert.Equal((1, 1, 1), (result.Stored, result.Duplicates, result.DeadLettered));
        Assert.StartsWith(FactIdentity.ReusedReason, Assert.Single(await Letters(h)).Reason, StringComparison.Ordinal);
        Assert.Equal(4, Assert.Single(await h.Reader.HistoryAsync("4", 10)).Fact.Value);
    }

    [Fact]
    public async Task A_reused_id_the_recent_history_no_longer_holds_is_found_through_its_identity_row()
    {
        using var h = new ArchiveHarness(azurite, o => o.RecentHistoryCap = 2);
        await h.Archive.IngestAsync(Enumerable.Range(0, 6).Select(i => h.Event(ArchiveHarness.Rating(5, 50 + i, 3, T0.AddMinutes(i)))).ToList());
        h.Clock.Advance(TimeSpan.FromMinutes(1));

        // rating:5:50 is the oldest: the entity (cap 2) does not hold it.
        var sameKey = await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(5, 50, 5, T0))]);
        var otherKey = await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(5, 51, 3, T0.AddDays(1)))]);
        var resend = await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(5, 52, 3, T0.AddMinutes(2)))]);

        Assert.Equal(1, sameKey.DeadLettered);
        Assert.Equal(1, otherKey.DeadLettered);
        Assert.Equal((0, 1), (resend.DeadLettered, resend.Duplicates));
        Assert.All(await Letters(h), l => Assert.StartsWith(FactIdentity.ReusedReason, l.Reason, StringComparison.Ordinal));
        Assert.Equal(6, (await h.DumpFactRowsAsync()).Count);
        await AssertEntityAgreesWithRows(h, "5");
    }

    [Fact]
    public async Task Catalog_and_correction_ids_are_identities_too()
    {
        using var h = new ArchiveHarness(azurite);
        FactEnvelope Catalog(string name) => new() { Id = "catalog:9", Kind = "catalog", Title = "9", EventTime = T0, Attributes = new() { ["name"] = name } };
        await h.Archive.IngestAsync([h.Event(Catalog("Heat (1995)")), h.Event(ArchiveHarness.Rating(6, 60, 2, T0))]);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(6, 60, 3, T0, id: "fix:6:60", supersedes: "rating:6:60"))]);
        h.Clock.Advance(TimeSpan.FromMinutes(1));

        var catalog = await h.Archive.IngestAsync([h.Event(Catalog("Cold (1995)"))]);
        var correction = await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(6, 60, 5, T0, id: "fix:6:60", supersedes: "rating:6:60"))]);
        var originalUnderCorrectionId = await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(6, 61, 5, T0, id: "fix:6:60"))]);

        Assert.Equal(1, catalog.DeadLettered);
        Assert.Equal(1, correction.DeadLettered);
        Assert.Equal(1, originalUnderCorrectionId.DeadLettered);
        var letters = await Letters(h);
        Assert.Equal(3, letters.Count);
        Assert.All(letters, l => Assert.StartsWith(FactIdentity.ReusedReason, l.Reason, StringComparison.Ordinal));
        Assert.Equal("Heat (1995)", (await h.Reader.CatalogEntryAsync("9"))!.Fact.Attributes!["name"]);
        Assert.Equal(3, Assert.Single(await h.Reader.HistoryAsync("6", 10)).Fact.Value);
        await AssertEntityAgreesWithRows(h, "6");
    }

    [Fact]
    public async Task A_batch_with_a_reused_id_delivered_twice_equals_one_delivery()
    {
        using var once = new ArchiveHarness(azurite);
        using var twice = new ArchiveHarness(azurite);
        foreach (var h in new[] { once, twice })
        {
            await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(7, 70, 2, T0))]);
        }

        var batchOnce = new[] { once.Event(ArchiveHarness.Rating(7, 70, 5, T0)), once.Event(ArchiveHarness.Rating(7, 71, 4, T0)) };
        var batchTwice = new[] { twice.Event(ArchiveHarness.Rating(7, 70, 5, T0)), twice.Event(ArchiveHarness.Rating(7, 71, 4, T0)) };
        await once.Archive.IngestAsync(batchOnce);
        await twice.Archive.IngestAsync(batchTwice);
        var again = await twice.Archive.IngestAsync(batchTwice);

        Assert.Equal((0, 1, 1), (again.Stored, again.Duplicates, again.DeadLettered));
        Assert.Equal(await once.DumpAsync(), await twice.DumpAsync());
        Assert.Single(await Letters(twice));
    }

    [Fact]
    public async Task A_refused_payload_larger_than_a_table_property_is_kept_whole_and_replayable()
    {
        using var h = new ArchiveHarness(azurite);
        var big = "{\"id\":\"big\",\"junk\":\"" + new string('x', 100_000) + "\"}";
        var binary = new byte[40_000];
        new Random(7).NextBytes(binary);
        binary[0] = 0xff;

        await h.Archive.IngestAsync([h.Event(big), new IncomingEvent(binary, h.Clock.GetUtcNow(), 99)]);

        var letters = await Letters(h);
        Assert.Equal(2, letters.Count);
        Assert.All(letters, l => Assert.NotNull(l.PayloadBlob));
        Assert.All(letters, l => Assert.True(l.Payload.Length < DeadLetterStore.MaxStoredPayloadChars));
        var payloads = await Task.WhenAll(letters.Select(l => h.Tables.DeadLetters.PayloadAsync(l, default)));
        Assert.Contains(payloads, p => p.AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(big)));
        Assert.Contains(payloads, p => p.AsSpan().SequenceEqual(binary));
    }
}
