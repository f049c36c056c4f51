using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Serverless.Archive;
using Serverless.Events;
using Serverless.Facts;
using Serverless.Tests.Fixtures;
using Serverless.TimeMachine;

namespace Serverless.Tests.TimeMachine;

/// <summary>
/// Incremental snapshots (issue 12, "Scale"): a snapshot cut from the previous one plus the ingest
/// journal since, or from the journal alone, equals a full read of the archive's batch interface as
/// of the same watermark, fact for fact and in order, on randomized facts with late arrivals (event
/// times long before their ingest, and deliveries that land after a snapshot was cut although their
/// ingest time is before its watermark), corrections, retractions, exact resends, redelivered
/// batches and refused re-used ids.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class IncrementalSnapshotTests(AzuriteFixture azurite)
{
    private static string Text(IEnumerable<Fact> facts) => string.Join("\n", facts.Select(f => JsonSerializer.Serialize(f, FactJson.Options)));

    private sealed class RandomArchive(ArchiveHarness h, int seed)
    {
        private readonly Random random = new(seed);
        private readonly List<FactEnvelope> current = [];
        private readonly List<IncomingEvent> sent = [];
        private readonly List<IncomingEvent> delayed = [];
        private int next;

        public int Corrections { get; private set; }
        public int Retractions { get; private set; }
        public int Late { get; private set; }

        /// <summary>One delivered batch: new ratings (some with event times months back), corrections, retractions, resends, re-used ids.</summary>
        public async Task BatchAsync(bool holdSome = false)
        {
            h.Clock.Advance(TimeSpan.FromMinutes(1 + random.Next(30)));
            var now = h.Clock.GetUtcNow();
            var events = new List<IncomingEvent>();
            var touched = new HashSet<string>();
            for (var i = 0; i < 4 + random.Next(20); i++)
            {
                var roll = random.NextDouble();
                if (roll < 0.15 && current.Count > 0)
                {
                    var target = current[random.Next(current.Count)];
                    if (!touched.Add(target.Id!)) { continue; }
                    current.Remove(target);
                    var retract = random.NextDouble() < 0.3;
                    var version = new FactEnvelope
                    {
                        Id = $"v{next++}", Kind = retract ? "retraction" : "rating", Member = target.Member, Title = target.Title,
                        Value = retract ? null : 0.5 + random.Next(10) / 2.0, EventTime = target.EventTime, Supersedes = target.Id,
                    };
                    if (retract) { Retractions++; } else { Corrections++; current.Add(version); }
                    events.Add(h.Event(version));
                }
                else if (roll < 0.22 && sent.Count > 0)
                {
                    // An exact resend of an earlier event, with a later enqueued time: a duplicate.
                    var earlier = sent[random.Next(sent.Count)];
                    events.Add(new IncomingEvent(earlier.Body, now, earlier.SequenceNumber));
                }
                else if (roll < 0.25 && current.Count > 0)
                {
                    // An id re-used with other content: refused, never stored.
                    var target = current[random.Next(current.Count)];
                    events.Add(h.Event(target with { Value = target.Value is 5 ? 1 : 5 }));
                }
                else
                {
                    var lateBy = random.NextDouble() < 0.3 ? TimeSpan.FromDays(random.Next(200)) : TimeSpan.FromMinutes(random.Next(60));
                    var member = 1 + random.Next(12);
                    var fact = ArchiveHarness.Rating(member, 1 + random.Next(40), 0.5 + random.Next(10) / 2.0, now - lateBy, id: $"r{next++}");
                    current.Add(fact);
                    events.Add(h.Event(fact));
                }
            }

            // Corrections of facts of this batch come after them (one member's facts stay ordered).
            var result = await h.Archive.IngestAsync(events);
            Assert.True(result.Received == events.Count, $"{result}");
            sent.AddRange(events);
            if (holdSome)
            {
                // A delivery of events enqueued now that will land later (after the next snapshot is cut): new facts only.
                for (var i = 0; i < 3; i++)
                {
                    var fact = ArchiveHarness.Rating(100 + random.Next(3), 1 + random.Next(40), 4, now.AddDays(-random.Next(30)), id: $"late{next++}");
                    current.Add(fact);
                    delayed.Add(h.Event(fact));
                }
            }

            if (random.NextDouble() < 0.2)
            {
                // A whole batch delivered again (the trigger failed after storing it): nothing changes.
                await h.Archive.IngestAsync(events);
            }
        }

        /// <summary>The held deliveries land now, with the ingest times they were enqueued at.</summary>
        public async Task LandDelayedAsync()
        {
            Late += delayed.Count;
            await h.Archive.IngestAsync(delayed.ToList());
            delayed.Clear();
        }
    }

    private static IncrementalSnapshots Cutter(ArchiveHarness h, FactSnapshotStore store) => new(h.Reader, h.Tables, store, h.Clock);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Previous_snapshot_plus_the_journal_since_equals_a_full_read_for_random_late_corrected_and_retracted_facts(int seed)
    {
        using var h = new ArchiveHarness(azurite);
        var store = new FactSnapshotStore(azurite.Blobs());
        var cutter = Cutter(h, store);
        var archive = new RandomArchive(h, seed);

        // Watermarks of this test only (the snapshots container is shared by the tests' archives).
        h.Clock.Advance(TimeSpan.FromDays(1000 + Random.Shared.Next(100_000)) + TimeSpan.FromTicks(Random.Shared.Next()));
        for (var i = 0; i < 6; i++) { await archive.BatchAsync(holdSome: i == 5); }
        var w0 = h.Clock.GetUtcNow();
        var full0 = await cutter.FromArchiveAsync(w0, w0, null, default);
        var journal0 = await cutter.FromJournalAsync(w0, w0, default);
        Assert.Equal(Text(full0.Facts), Text(journal0.Facts));
        Assert.Equal(full0.Manifest.Retired, journal0.Manifest.Retired);
        await cutter.SaveAsync(full0, default);

        // After the first snapshot: deliveries enqueued before it land, corrections and retractions of facts it holds, more facts.
        h.Clock.Advance(TimeSpan.FromMinutes(5));
        await archive.LandDelayedAsync();
        for (var i = 0; i < 4; i++) { await archive.BatchAsync(holdSome: i == 3); }
        var w1 = h.Clock.GetUtcNow();
        h.Clock.Advance(TimeSpan.FromMinutes(2));
        await archive.LandDelayedAsync();
        await archive.BatchAsync();

        foreach (var previous in new[] { full0, journal0 })
        {
            var increment = await cutter.IncrementalAsync(previous.Manifest, w1, h.Clock.GetUtcNow(), default);
            var full1 = await cutter.FromArchiveAsync(w1, h.Clock.GetUtcNow(), null, default);
            Assert.Equal(Text(full1.Facts), Text(increment.Facts));
            Assert.Equal(full1.Manifest.Retired, increment.Manifest.Retired);
            Assert.Equal(0, increment.Manifest.ArchiveFactsRead);
            await cutter.SaveAsync(increment, default);

            // And the next increment, from this one.
            for (var i = 0; i < 3; i++) { await archive.BatchAsync(); }
            var w2 = h.Clock.GetUtcNow();
            var second = await cutter.IncrementalAsync(increment.Manifest, w2, w2, default);
            Assert.Equal(Text((await cutter.FromArchiveAsync(w2, w2, null, default)).Facts), Text(second.Facts));
        }

        Assert.True(archive.Corrections > 3 && archive.Retractions > 1 && archive.Late > 0, $"{archive.Corrections} corrections, {archive.Retractions} retractions, {archive.Late} late");
    }

    [Fact]
    public async Task A_training_cut_follows_the_previous_snapshot_and_reads_only_the_journal_files_landed_since()
    {
        using var h = new ArchiveHarness(azurite);
        var store = new FactSnapshotStore(azurite.Blobs());
        var cutter = Cutter(h, store);
        var archive = new RandomArchive(h, 7);

        // Watermarks of this test only (the snapshots container is shared by the tests' archives).
        h.Clock.Advance(TimeSpan.FromDays(1000 + Random.Shared.Next(100_000)) + TimeSpan.FromTicks(Random.Shared.Next()));
        for (var i = 0; i < 10; i++) { await archive.BatchAsync(); }
        var first = await cutter.CutAsync(h.Clock.GetUtcNow(), null, default);
        Assert.Equal(SnapshotSources.Journal, first.Manifest.Source);
        var filesBefore = (await h.Tables.Journal.SinceAsync(null, default)).Count;

        await archive.BatchAsync();
        var w = h.Clock.GetUtcNow();
        var second = await cutter.CutAsync(w, null, default);

        Assert.Equal(SnapshotSources.Incremental, second.Manifest.Source);
        Assert.Equal(first.Manifest.Snapshot, second.Manifest.Base);
        Assert.InRange(second.Manifest.JournalFilesRead, 1, 2);
        Assert.True(filesBefore >= 10, $"{filesBefore} journal files");
        Assert.Equal(Text((await cutter.FromArchiveAsync(w, w, null, default)).Facts), Text(second.Facts));
        Assert.Equal(Text(second.Facts), Text(await store.LoadAsync(second.Manifest.Snapshot, default)));
    }

    [Fact]
    public async Task An_archive_written_before_the_journal_started_is_cut_by_a_full_read_first()
    {
        using var h = new ArchiveHarness(azurite);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(1, 1, 4, ArchiveHarness.Start.AddDays(-1)))]);

        // Another instance of the archive (same tables) whose journal start was never recorded as complete.
        await h.Tables.Journal.Index.DeleteEntityAsync("meta", "start");
        var later = new ArchiveTables(azurite.Tables(), azurite.Blobs(), Options.Create(h.Options), h.Clock);
        await later.EnsureCreatedAsync();
        Assert.False((await later.Journal.StartAsync(default))!.Complete);

        var cutter = new IncrementalSnapshots(h.Reader, later, new FactSnapshotStore(azurite.Blobs()), h.Clock);
        h.Clock.Advance(TimeSpan.FromDays(20_000 + Random.Shared.Next(100_000)));
        var cut = await cutter.CutAsync(h.Clock.GetUtcNow(), null, default);

        Assert.Equal(SnapshotSources.Archive, cut.Manifest.Source);
        Assert.Equal("1", Assert.Single(cut.Facts).Member);
    }

    [Fact]
    public async Task A_redelivered_batch_lands_on_the_same_journal_file()
    {
        using var h = new ArchiveHarness(azurite);
        var events = new[] { h.Event(ArchiveHarness.Rating(1, 1, 4, ArchiveHarness.Start.AddDays(-1))), h.Event(ArchiveHarness.Rating(2, 1, 3, ArchiveHarness.Start.AddDays(-1))) };
        await h.Archive.IngestAsync(events);
        h.Clock.Advance(TimeSpan.FromMinutes(1));
        var again = await h.Archive.IngestAsync(events);

        Assert.Equal(2, again.Duplicates);
        var file = Assert.Single(await h.Tables.Journal.SinceAsync(null, default));
        Assert.Equal(2, file.Facts);
        Assert.Equal(2, (await h.Tables.Journal.ReadAsync([file], default)).Single().Facts.Count);
        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"files/{file.Id}.jsonl.gz"), file.Blob);
    }
}
