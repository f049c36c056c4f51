using System.Globalization;
using System.Text.Json;
using Azure.Data.Tables;
using Serverless.Archive;
using Serverless.Events;
using Serverless.Facts;
using Serverless.Storage;
using Serverless.Tests.Fixtures;
using Serverless.TimeMachine;

namespace Serverless.Tests.Archive;

/// <summary>
/// The members' recent-history entities: the live read from one entity equals the fact-row read,
/// the fact rows answer what the entity cannot, and the entity is kept by ingestion in the same
/// transactions as the rows (redelivery-proof, built once for members archived without one).
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class RecentHistoryTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset T0 = ArchiveHarness.Start.AddDays(-30);
    private static readonly int[] Limits = [1, 3, 5, 6, 50];

    /// <summary>
    /// Random sequences of ratings (some older than everything the entity holds), corrections and
    /// retractions (some in the batch of their original), whole and partial redeliveries, with an
    /// entity cap of 5 so it is often incomplete. After every batch, for every member and limit:
    /// the live read equals the fact-row read as of now and as of earlier moments; the entity is the
    /// one built from the fact rows (canonical); and the fallback is taken exactly when the entity
    /// cannot answer.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task The_entity_read_equals_the_fact_row_read_for_random_inserts_corrections_retractions_and_redeliveries(int seed)
    {
        const int cap = 5;
        using var h = new ArchiveHarness(azurite, o => o.RecentHistoryCap = cap);
        var random = new Random(seed);
        var model = new WorldModel(random);
        var moments = new List<DateTimeOffset>();
        var delivered = new List<List<IncomingEvent>>();
        long fromRecent = 0, fromRows = 0;

        for (var step = 0; step < 35; step++)
        {
            h.Clock.Advance(TimeSpan.FromSeconds(random.Next(1, 600)));
            var roll = random.NextDouble();
            if (roll < 0.15 && delivered.Count > 0)
            {
                // A batch delivered again (events keep their enqueued time).
                await h.Archive.IngestAsync(delivered[random.Next(delivered.Count)]);
            }
            else
            {
                var batch = model.NextBatch(h, random.Next(1, 9));
                if (roll > 0.85 && batch.Count > 1)
                {
                    // A first attempt that stored only part of the batch, then the whole batch again.
                    await h.Archive.IngestAsync(batch.Where((_, i) => i % 2 == 0).ToList());
                }

                await h.Archive.IngestAsync(batch);
                delivered.Add(batch);
            }

            moments.Add(h.Clock.GetUtcNow());
            foreach (var member in WorldModel.Members)
            {
                var partition = FactPartition.ForMember(member);
                var rows = await h.Tables.Recent.FactRowsAsync(partition, default);
                if (rows.Count == 0)
                {
                    continue;
                }

                var stored = await h.Tables.Recent.ReadAsync(partition, default);
                Assert.NotNull(stored);
                Assert.Equal(Dump(RecentHistory.FromFactRows(rows, cap)), Dump(stored));

                var now = h.Clock.GetUtcNow();
                var pastMoments = moments.Count > 3 ? [moments[random.Next(moments.Count)], moments[^2]] : moments.ToArray();
                foreach (var at in pastMoments.Append(now))
                {
                    foreach (var limit in Limits)
                    {
                        var canAnswer = stored!.TryRead(at, limit, out _);
                        var live = await h.Reader.HistoryAsync(member, limit, at);
                        var truth = await h.Reader.HistoryFromFactRowsAsync(member, limit, at);
                        Assert.Equal(Json(truth), Json(live));

                        var counts = h.Reader.LiveCounts();
                        Assert.Equal(canAnswer ? fromRecent + 1 : fromRecent, counts.FromRecent);
                        Assert.Equal(canAnswer ? fromRows : fromRows + 1, counts.FromFactRows);
                        (fromRecent, fromRows) = (counts.FromRecent, counts.FromFactRows);

                        // The entity cannot answer exactly when it must not: a version superseded after
                        // the moment, or more facts wanted than it holds (and it does not hold all).
                        var oracle = OracleCanAnswer(rows, at, limit, cap);
                        Assert.Equal(oracle, canAnswer);
                    }
                }

                // The batch read of several moments answers each exactly as the fact rows do.
                var all = pastMoments.Append(now).ToList();
                foreach (var limit in Limits)
                {
                    var batch = await h.Reader.HistoriesAsync(member, limit, all);
                    Assert.Equal(all.Count, batch.Count);
                    for (var i = 0; i < all.Count; i++)
                    {
                        Assert.Equal(Json(await h.Reader.HistoryFromFactRowsAsync(member, limit, all[i])), Json(batch[i]));
                    }
                }

                var after = h.Reader.LiveCounts();
                (fromRecent, fromRows) = (after.FromRecent, after.FromFactRows);
            }
        }

        // Both paths were exercised.
        Assert.True(fromRecent > 100, $"entity answers: {fromRecent}");
        Assert.True(fromRows > 20, $"fact-row answers: {fromRows}");
        Assert.True(model.Corrections > 3 && model.Retractions > 1, $"{model.Corrections} corrections, {model.Retractions} retractions");
    }

    [Fact]
    public async Task A_redelivered_batch_with_corrections_and_retractions_leaves_the_table_row_for_row_as_one_clean_delivery()
    {
        using var clean = new ArchiveHarness(azurite, o => o.RecentHistoryCap = 3);
        using var partial = new ArchiveHarness(azurite, o => o.RecentHistoryCap = 3);
        using var twice = new ArchiveHarness(azurite, o => o.RecentHistoryCap = 3);
        var first = Enumerable.Range(0, 8).Select(i => ArchiveHarness.Rating(1, i, 3, T0.AddHours(i))).ToList();
        var second = new List<FactEnvelope>
        {
            ArchiveHarness.Rating(1, 7, 5, T0.AddHours(7), id: "rating:1:7:v2", supersedes: "rating:1:7"),
            ArchiveHarness.Rating(1, 6, 1, T0.AddHours(6), id: "rating:1:6:v2", supersedes: "rating:1:6"),
            new() { Id = "retract:1:5", Kind = "retraction", Member = "1", Supersedes = "rating:1:5", EventTime = T0.AddDays(1) },
            ArchiveHarness.Rating(1, 20, 4, T0.AddHours(-5)),
            ArchiveHarness.Rating(1, 21, 4, T0.AddHours(9)),
        };

        foreach (var h in new[] { clean, partial, twice })
        {
            await h.Archive.IngestAsync(first.Select(h.Event).ToList());
            h.Clock.Advance(TimeSpan.FromMinutes(1));
        }

        await clean.Archive.IngestAsync(second.Select(clean.Event).ToList());
        var events = second.Select(partial.Event).ToList();
        await partial.Archive.IngestAsync([events[3], events[1]]);
        var redelivered = await partial.Archive.IngestAsync(events);
        var again = second.Select(twice.Event).ToList();
        await twice.Archive.IngestAsync(again);
        var duplicate = await twice.Archive.IngestAsync(again);

        Assert.Equal(2, redelivered.Duplicates);
        Assert.Equal(5, duplicate.Duplicates);
        var expected = await clean.DumpAsync();
        Assert.Contains(expected, r => r.Contains("RowKey=" + RecentHistory.RowKey, StringComparison.Ordinal));
        Assert.Equal(expected, await partial.DumpAsync());
        Assert.Equal(expected, await twice.DumpAsync());
        Assert.Equal(["rating:1:21", "rating:1:7:v2", "rating:1:6:v2"], (await clean.Reader.HistoryAsync("1", 3)).Select(f => f.Fact.Id));
    }

    [Fact]
    public async Task Two_writers_of_one_member_each_write_from_a_stale_entity_and_still_keep_it_right()
    {
        using var h = new ArchiveHarness(azurite, o => o.RecentHistoryCap = 4);
        var other = new FactArchive(h.Tables, new FactValidator(new FactLimits()), h.Options, h.Clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<FactArchive>.Instance);
        var writers = new[] { h.Archive, other };
        for (var i = 0; i < 12; i++)
        {
            h.Clock.Advance(TimeSpan.FromMinutes(1));
            var batch = new List<IncomingEvent> { h.Event(ArchiveHarness.Rating(4, i, 3, T0.AddHours(i % 5 == 0 ? -i : i))) };
            if (i % 3 == 2)
            {
                batch.Add(h.Event(ArchiveHarness.Rating(4, i - 1, 5, T0.AddHours(i - 1), id: $"rating:4:{i - 1}:v2", supersedes: $"rating:4:{i - 1}")));
            }

            // Each writer's own last write is stale once the other has written the member.
            var result = await writers[i % 2].IngestAsync(batch);
            Assert.Equal(batch.Count, result.Stored + result.Corrections);
        }

        var partition = FactPartition.ForMember("4");
        var rows = await h.Tables.Recent.FactRowsAsync(partition, default);
        Assert.Equal(16, rows.Count);
        Assert.Equal(Dump(RecentHistory.FromFactRows(rows, 4)), Dump((await h.Tables.Recent.ReadAsync(partition, default))!));
        foreach (var limit in Limits)
        {
            Assert.Equal(Json(await h.Reader.HistoryFromFactRowsAsync("4", limit, h.Clock.GetUtcNow())), Json(await h.Reader.HistoryAsync("4", limit)));
        }
    }

    [Fact]
    public async Task Registration_says_which_partitions_it_created_so_their_first_write_reads_nothing()
    {
        using var h = new ArchiveHarness(azurite);
        Assert.Equal(["m_a", "m_b"], (await h.Tables.Partitions.RegisterAsync(["m_a", "m_b", "m_a"], default)).Order(StringComparer.Ordinal));
        Assert.Empty(await h.Tables.Partitions.RegisterAsync(["m_a"], default));

        // Another instance (it remembers nothing): only the partition the index did not hold is created.
        var other = new PartitionIndex(h.Tables.Partitions.Table);
        Assert.Equal(["m_c"], await other.RegisterAsync(["m_b", "m_c", "m_a"], default));
        Assert.Equal(["m_a", "m_b", "m_c"], await h.Tables.Partitions.ListAsync(null, 10, default));
    }

    [Fact]
    public async Task A_member_archived_without_an_entity_gets_one_built_from_its_rows_on_the_first_live_read()
    {
        using var h = new ArchiveHarness(azurite, o => o.RecentHistoryCap = 4);
        var superseded = await WriteLegacyRowsAsync(h, "5", 9);
        var partition = FactPartition.ForMember("5");
        Assert.Null(await h.Tables.Recent.ReadAsync(partition, default));

        var first = await h.Reader.HistoryAsync("5", 3);
        Assert.Equal(Json(await h.Reader.HistoryFromFactRowsAsync("5", 3, h.Clock.GetUtcNow())), Json(first));
        Assert.Equal(new LiveReadCounts(0, 1, 1), h.Reader.LiveCounts());

        var built = await h.Tables.Recent.ReadAsync(partition, default);
        Assert.NotNull(built);
        Assert.False(built.Complete);
        Assert.Equal(4, built.Facts.Count);
        Assert.Equal(superseded, built.LastSupersededAt);
        Assert.Equal(Dump(RecentHistory.FromFactRows(await h.Tables.Recent.FactRowsAsync(partition, default), 4)), Dump(built));

        var second = await h.Reader.HistoryAsync("5", 3);
        Assert.Equal(Json(first), Json(second));
        Assert.Equal(new LiveReadCounts(1, 1, 1), h.Reader.LiveCounts());

        // A member without facts gets no entity.
        Assert.Empty(await h.Reader.HistoryAsync("nobody", 3));
        Assert.Null(await h.Tables.Recent.ReadAsync(FactPartition.ForMember("nobody"), default));
    }

    [Fact]
    public async Task Ingesting_into_a_member_archived_without_an_entity_builds_it_from_the_rows_in_the_same_transaction()
    {
        using var legacy = new ArchiveHarness(azurite, o => o.RecentHistoryCap = 4);
        await WriteLegacyRowsAsync(legacy, "6", 7);
        legacy.Clock.Advance(TimeSpan.FromMinutes(5));
        await legacy.Archive.IngestAsync([legacy.Event(ArchiveHarness.Rating(6, 100, 4, T0.AddDays(3))), legacy.Event(ArchiveHarness.Rating(6, 101, 2, T0.AddDays(-3)))]);
        await legacy.Archive.IngestAsync([legacy.Event(ArchiveHarness.Rating(6, 100, 5, T0.AddDays(3), id: "rating:6:100:v2", supersedes: "rating:6:100"))]);

        var partition = FactPartition.ForMember("6");
        var rows = await legacy.Tables.Recent.FactRowsAsync(partition, default);
        Assert.Equal(7 + 1 + 3, rows.Count);
        var stored = await legacy.Tables.Recent.ReadAsync(partition, default);
        Assert.Equal(Dump(RecentHistory.FromFactRows(rows, 4)), Dump(stored!));
        Assert.Equal("rating:6:100:v2", stored!.Facts[0].Fact.Id);
        foreach (var limit in Limits)
        {
            Assert.Equal(Json(await legacy.Reader.HistoryFromFactRowsAsync("6", limit, legacy.Clock.GetUtcNow())), Json(await legacy.Reader.HistoryAsync("6", limit)));
        }
    }

    [Fact]
    public async Task Batch_queries_snapshots_and_corrections_never_see_the_entity_as_a_fact()
    {
        using var h = new ArchiveHarness(azurite);
        await h.Archive.IngestAsync(Enumerable.Range(0, 12).Select(i => h.Event(ArchiveHarness.Rating(i % 3, i, 4, T0.AddHours(i)))).ToList());
        h.Clock.Advance(TimeSpan.FromMinutes(1));
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(0, 0, 1, T0, id: "rating:0:0:v2", supersedes: "rating:0:0"))]);
        // Beside the 13 fact rows: 3 recent-history entities and 3 identities entities (one per member, every version's id and content hash).
        Assert.Equal(3 + 3, (await h.DumpAsync()).Count - (await h.DumpFactRowsAsync()).Count);

        var all = await h.Reader.ReadAllAsync(new BatchQuery(null, null, null, null, null, null, true, 5, null));
        Assert.Equal(13, all.Count);
        var member = await h.Reader.ReadAllAsync(new BatchQuery("0", null, null, null, null, null, true, 100, null));
        Assert.Equal(5, member.Count);
        Assert.DoesNotContain(all, f => f.Fact.Id.Length == 0 || f.Fact.Member is null);
        var snapshot = await FactSnapshotStore.ReadArchiveAsync(h.Reader, h.Clock.GetUtcNow(), default);
        Assert.Equal(12, snapshot.Count);

        // A correction naming the entity's key (or with no FactId) finds no fact to supersede.
        var odd = await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(0, 1, 2, T0, id: "odd", supersedes: RecentHistory.RowKey))]);
        Assert.Equal(1, odd.DeadLettered);
    }

    [Fact]
    public void A_large_history_is_split_over_64_KiB_properties_and_cut_to_the_size_budget()
    {
        var attributes = Enumerable.Range(0, 16).ToDictionary(i => $"a{i}", i => new string((char)('a' + i), 1000));
        ArchivedFact Row(int i) => new(new Fact($"big:{i}", FactKind.Rating, "7", i.ToString(CultureInfo.InvariantCulture), 4, T0.AddMinutes(i), T0.AddDays(1), null, attributes), null, null);

        var some = RecentHistory.FromFactRows(Enumerable.Range(0, 10).Select(Row), 512);
        Assert.True(some.Complete);
        var entity = some.ToEntity("m_7");
        Assert.True(entity.ContainsKey("D2"));
        Assert.False(entity.ContainsKey("D3"));
        Assert.All(entity.Where(kv => kv.Key.StartsWith('D')), kv => Assert.True(((BinaryData)kv.Value!).ToMemory().Length <= RecentHistory.MaxPropertyBytes));
        var back = RecentHistory.FromEntity(entity)!;
        Assert.Equal(Json(some.Facts), Json(back.Facts));
        Assert.Equal("big:9", back.Facts[0].Fact.Id);

        var many = RecentHistory.FromFactRows(Enumerable.Range(0, 100).Select(Row), 512);
        Assert.False(many.Complete);
        Assert.True(many.PackedBytes <= RecentHistory.MaxBytes);
        Assert.InRange(many.Facts.Count, 40, 99);
        Assert.Equal("big:99", many.Facts[0].Fact.Id);
        Assert.False(many.TryRead(T0.AddDays(2), 100, out _));
        Assert.True(many.TryRead(T0.AddDays(2), 10, out var ten));
        Assert.Equal(10, ten.Count);

        // An unknown format version reads as no entity.
        var data = ((BinaryData)entity["D0"]).ToArray();
        data[0] = RecentHistory.FormatVersion + 1;
        entity["D0"] = new BinaryData(data);
        Assert.Null(RecentHistory.FromEntity(entity));
    }

    [Fact]
    public async Task An_entity_of_an_unknown_format_is_not_read_and_is_rebuilt_by_the_next_write()
    {
        using var h = new ArchiveHarness(azurite);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(8, 1, 4, T0)), h.Event(ArchiveHarness.Rating(8, 2, 4, T0.AddHours(1)))]);
        var partition = FactPartition.ForMember("8");
        var future = new TableEntity(partition, RecentHistory.RowKey) { ["D0"] = new BinaryData(new byte[] { 99, 1, 2, 3 }) };
        await h.Tables.Facts.UpsertEntityAsync(future, TableUpdateMode.Replace);

        Assert.Equal(["rating:8:2", "rating:8:1"], (await h.Reader.HistoryAsync("8", 10)).Select(f => f.Fact.Id));
        Assert.Equal(0, h.Reader.LiveCounts().FromRecent);

        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(8, 3, 4, T0.AddHours(2)))]);
        var rebuilt = await h.Tables.Recent.ReadAsync(partition, default);
        Assert.Equal(["rating:8:3", "rating:8:2", "rating:8:1"], rebuilt!.Facts.Select(f => f.Fact.Id));
        Assert.Equal(["rating:8:3", "rating:8:2", "rating:8:1"], (await h.Reader.HistoryAsync("8", 10)).Select(f => f.Fact.Id));
        Assert.Equal(1, h.Reader.LiveCounts().FromRecent);
    }

    /// <summary>Whether the entity can answer exactly, from the fact rows alone: the test's own statement of the rule.</summary>
    private static bool OracleCanAnswer(List<ArchivedFact> rows, DateTimeOffset at, int limit, int cap)
    {
        if (rows.Any(r => r.SupersededAt is { } s && s > at))
        {
            return false;
        }

        var current = rows.Where(r => r.SupersededAt is null && r.Fact.Kind != FactKind.Retraction).ToList();
        var held = current.Take(cap).ToList();
        var visible = held.Count(r => r.Fact.IngestTime <= at && r.Fact.EventTime <= at);
        return visible >= limit || current.Count <= cap;
    }

    /// <summary>Rows written as the archive wrote them before entities existed (no entity), one of them superseded; returns when.</summary>
    private static async Task<DateTimeOffset> WriteLegacyRowsAsync(ArchiveHarness h, string member, int count)
    {
        var facts = Enumerable.Range(0, count)
            .Select(i => new Fact($"rating:{member}:{i}", FactKind.Rating, member, i.ToString(CultureInfo.InvariantCulture), 3, T0.AddHours(i), h.Clock.GetUtcNow()))
            .ToList();
        await h.Tables.Partitions.RegisterAsync([FactPartition.ForMember(member)], default);
        await IdempotentInserts.InsertAllAsync(h.Tables.Facts, facts.Select(FactRows.ToEntity), 1, default);
        h.Clock.Advance(TimeSpan.FromMinutes(1));
        var at = h.Clock.GetUtcNow();
        var correction = facts[^1] with { Id = $"rating:{member}:{count - 1}:v2", Value = 5, IngestTime = at, Supersedes = facts[^1].Id };
        var mark = new TableEntity(FactPartition.ForMember(member), FactRows.RowKey(facts[^1])) { [FactRows.SupersededAt] = at, [FactRows.SupersededBy] = correction.Id };
        await h.Tables.Facts.SubmitTransactionAsync(
        [
            new TableTransactionAction(TableTransactionActionType.Add, FactRows.ToEntity(correction)),
            new TableTransactionAction(TableTransactionActionType.UpdateMerge, mark),
        ]);
        return at;
    }

    private static string Dump(RecentHistory history) =>
        string.Join("|", history.ToEntity("p").OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value is BinaryData b ? Convert.ToBase64String(b.ToArray()) : kv.Value?.ToString()));

    private static string Json(IEnumerable<ArchivedFact> facts) => JsonSerializer.Serialize(facts.Select(FactView.From), FactJson.Options);

    /// <summary>The members' facts as the test generates them: chains of versions, each with its current version.</summary>
    private sealed class WorldModel(Random random)
    {
        public static readonly string[] Members = ["1", "2", "3"];
        private readonly List<(string Member, string Title, string Current, int Version)> chains = [];
        private int next;

        public int Corrections { get; private set; }
        public int Retractions { get; private set; }

        public List<IncomingEvent> NextBatch(ArchiveHarness h, int size)
        {
            var batch = new List<IncomingEvent>();
            for (var i = 0; i < size; i++)
            {
                var roll = random.NextDouble();
                if (roll < 0.6 || chains.Count < 3)
                {
                    var member = Members[random.Next(Members.Length)];
                    var title = (next++).ToString(CultureInfo.InvariantCulture);
                    // Mostly recent; sometimes older than anything held (beyond the entity's boundary), a tie
                    // in event time, or ahead of the ingest time (invisible to reads as of before it).
                    var eventTime = random.NextDouble() switch
                    {
                        < 0.2 => T0.AddDays(-random.Next(1, 100)),
                        < 0.3 => T0,
                        < 0.4 => h.Clock.GetUtcNow().AddMinutes(random.Next(1, 600)),
                        _ => h.Clock.GetUtcNow().AddMinutes(-random.Next(0, 60 * 24 * 20)),
                    };
                    var id = $"rating:{member}:{title}";
                    batch.Add(h.Event(new FactEnvelope { Id = id, Kind = "rating", Member = member, Title = title, Value = 0.5 * random.Next(1, 11), EventTime = eventTime }));
                    chains.Add((member, title, id, 1));
                }
                else
                {
                    var index = random.Next(chains.Count);
                    var (member, title, current, version) = chains[index];
                    if (roll < 0.85)
                    {
                        var id = $"rating:{member}:{title}:v{version + 1}";
                        var eventTime = h.Clock.GetUtcNow().AddMinutes(-random.Next(0, 60 * 24 * 20));
                        batch.Add(h.Event(new FactEnvelope { Id = id, Kind = "rating", Member = member, Title = title, Value = 0.5 * random.Next(1, 11), EventTime = eventTime, Supersedes = current }));
                        chains[index] = (member, title, id, version + 1);
                        Corrections++;
                    }
                    else
                    {
                        batch.Add(h.Event(new FactEnvelope { Id = $"retract:{current}", Kind = "retraction", Member = member, Supersedes = current, EventTime = h.Clock.GetUtcNow() }));
                        chains.RemoveAt(index);
                        Retractions++;
                    }
                }
            }

            return batch;
        }
    }
}
