using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Serverless.Archive;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Precompute;
using Serverless.Tests.Fixtures;
using Serverless.TimeMachine;
using Serverless.Workflows;
using Serverless.Workflows.TimeMachine;

namespace Serverless.Tests.TimeMachine;

/// <summary>
/// The Snapshotter of chosen contexts on the in-process Durable Task host (real replay) with the real
/// activities on Azurite: what a snapshot holds, bad input, a run interrupted and resumed, a run that
/// fails for good, late and corrected facts.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class ContextSnapshotTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset T0 = ArchiveHarness.Start.AddDays(-200);

    [Fact]
    public async Task Time_travel_builds_from_the_snapshot_cut_from_the_journal_the_set_a_full_read_of_the_archive_gives()
    {
        using var w = new World(azurite);
        await w.SeedAsync();
        w.Archive.Clock.Advance(TimeSpan.FromDays(120));
        var now = w.Archive.Clock.GetUtcNow();
        var stats = new TitleStatsVersions(w.Derived, new DerivedDataStore(azurite.Blobs(), "unused" + azurite.NewPrefix()), w.Encoder);
        var query = new TrainingSetQuery(now, new Serverless.Training.TrainingSetOptions());

        var sourced = await new TimeTravelSource(w.Snapshots, stats, w.Encoder).BuildAsync(query);

        var all = await FactSnapshotStore.ReadArchiveAsync(w.Archive.Reader, now, CancellationToken.None);
        var cutoffs = Serverless.Training.TrainingSetBuilder.Cutoffs(all.Where(f => f.Kind == FactKind.Rating).ToList(), now, query.Options);
        var expected = TimeTravelSource.FromFacts(all, query, w.Encoder, await stats.TimelineAsync(cutoffs), "full read").Set;
        Assert.NotEmpty(sourced.Set.Train);
        Assert.Equal(expected.Train.Select(e => (e.Features, e.Label)), sourced.Set.Train.Select(e => (e.Features, e.Label)));
        Assert.Equal(expected.Validation.Select(e => (e.Features, e.Label)), sourced.Set.Validation.Select(e => (e.Features, e.Label)));
        Assert.StartsWith("snapshot:", sourced.Lineage.Reference, StringComparison.Ordinal);
        Assert.Contains(":journal:", sourced.Lineage.Reference, StringComparison.Ordinal);
        Assert.True(sourced.Leakage.Clean, sourced.Leakage.Summary());
    }

    /// <summary>
    /// An archive of 30 members where member i has i + 1 ratings (light to heavy), 12 titles, and a
    /// snapshotter on its own container; <paramref name="fromJournal"/>: it takes histories from the
    /// fact snapshot at T cut from the ingest journal, else through the live interface (counted in <see cref="LiveReads"/>).
    /// </summary>
    private sealed class World : IDisposable
    {
        public World(AzuriteFixture azurite, bool fromJournal = false)
        {
            Archive = new ArchiveHarness(azurite);
            var prefix = azurite.NewPrefix();
            Derived = new DerivedVersionRegistry(azurite.Tables(), prefix, Archive.Clock);
            Derived.EnsureCreatedAsync().GetAwaiter().GetResult();
            LiveReads = new CountingLive(Archive.Reader);
            Snapshots = new IncrementalSnapshots(Archive.Reader, Archive.Tables, new FactSnapshotStore(azurite.Blobs()), Archive.Clock);
            Snapshotter = new ContextSnapshotter(azurite.Blobs(), LiveReads, Archive.Reader, Archive.Tables, Derived, Encoder, "ctx" + prefix, fromJournal ? Snapshots : null);
        }

        /// <summary>Fact snapshots cut from this archive's ingest journal.</summary>
        public IncrementalSnapshots Snapshots { get; }

        public CountingLive LiveReads { get; }

        public ArchiveHarness Archive { get; }
        public DerivedVersionRegistry Derived { get; }
        public FeatureEncoder Encoder { get; } = new(FeatureConfig.Default);
        public ContextSnapshotter Snapshotter { get; }

        public async Task SeedAsync(int members = 30)
        {
            var events = new List<Serverless.Events.IncomingEvent>();
            for (var t = 0; t < 12; t++)
            {
                events.Add(Archive.Event(new FactEnvelope
                {
                    Id = $"catalog:{t}", Kind = "catalog", Title = t.ToString(System.Globalization.CultureInfo.InvariantCulture), EventTime = T0.AddDays(-10),
                    Attributes = new() { ["name"] = $"Title {t}", ["genres"] = t % 2 == 0 ? "Drama" : "Comedy", ["year"] = "1999" },
                }));
            }

            for (var m = 0; m < members; m++)
            {
                for (var i = 0; i <= m; i++)
                {
                    events.Add(Archive.Event(ArchiveHarness.Rating(m, i % 12, 1 + (m + i) % 5, T0.AddDays(i * 3).AddMinutes(m), id: $"rating:{m}:{i}")));
                }
            }

            await Archive.Archive.IngestAsync(events);
        }

        public async Task<DurableTaskTestHost> HostAsync(TaskActivity<CaptureSnapshotPartitionInput, SnapshotPart>? partition = null) =>
            await InProcessDurableHost.StartAsync(tasks =>
            {
                tasks.AddOrchestrator<ContextSnapshotOrchestrator>();
                tasks.AddActivity(TaskNames.PlanContextSnapshot, new PlanContextSnapshotActivity(Snapshotter));
                tasks.AddActivity(TaskNames.CaptureSnapshotPartition, partition ?? new CaptureSnapshotPartitionActivity(Snapshotter));
                tasks.AddActivity(TaskNames.CaptureSnapshotCatalog, new CaptureSnapshotCatalogActivity(Snapshotter));
                tasks.AddActivity(TaskNames.CompleteContextSnapshot, new CompleteContextSnapshotActivity(Snapshotter, Archive.Clock));
            });

        public Task<ContextSnapshotRequest> StartAsync(DurableTaskClient client, DateTimeOffset? asOf = null, double? rate = 0.1, string[]? members = null) =>
            ContextSnapshotInstances.StartAsync(client, Snapshotter, new TimeMachineOptions(), Encoder.ConfigHash, Archive.Clock.GetUtcNow(), asOf, rate, 7, 3, members, "test");

        public static async Task<OrchestrationMetadata> WaitAsync(DurableTaskClient client, string id)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            return await client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
        }

        public void Dispose() => Archive.Dispose();
    }

    /// <summary>The live interface, counting its reads.</summary>
    private sealed class CountingLive(ILiveHistory inner) : ILiveHistory
    {
        private int reads;

        public int Reads => Volatile.Read(ref reads);

        public Task<IReadOnlyList<ArchivedFact>> HistoryAsync(string member, int limit, DateTimeOffset? asOf = null, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref reads);
            return inner.HistoryAsync(member, limit, asOf, cancellationToken);
        }
    }

    /// <summary>Fails the first attempt at partition 1 (a crashed worker), then captures as the real activity does.</summary>
    private sealed class FailsOnce(ContextSnapshotter snapshotter, bool forGood = false) : TaskActivity<CaptureSnapshotPartitionInput, SnapshotPart>
    {
        private int attempts;

        /// <summary>Attempts at partition 1.</summary>
        public int Attempts => Volatile.Read(ref attempts);

        public override Task<SnapshotPart> RunAsync(TaskActivityContext context, CaptureSnapshotPartitionInput input)
        {
            if (input.Partition == 1 && (Interlocked.Increment(ref attempts) == 1 || forGood))
            {
                throw new IOException("storage went away in the middle of partition 1");
            }

            return snapshotter.CapturePartitionAsync(input.Id, input.AsOf, input.Partition);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_member_whose_facts_all_came_after_T_is_not_in_the_population_of_a_snapshot_as_of_T(bool fromJournal)
    {
        using var w = new World(azurite, fromJournal);
        await w.SeedAsync();
        w.Archive.Clock.Advance(TimeSpan.FromHours(1));
        var at = w.Archive.Clock.GetUtcNow();
        // After T (and before the plan runs): a member the archive did not know at T.
        w.Archive.Clock.Advance(TimeSpan.FromMinutes(5));
        await w.Archive.Archive.IngestAsync([w.Archive.Event(ArchiveHarness.Rating(900, 1, 5, at.AddMinutes(1), id: "rating:900:late"))]);
        await using var host = await w.HostAsync();

        var request = await w.StartAsync(host.Client, asOf: at);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await World.WaitAsync(host.Client, request.Id)).RuntimeStatus);

        var manifest = (await w.Snapshotter.GetManifestAsync(request.Id))!;
        Assert.Equal(30, manifest.Population);
        Assert.Empty(manifest.WithoutHistory);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_snapshot_captures_a_stratified_sample_with_exactly_the_history_known_at_T_and_writes_its_manifest_last(bool fromJournal)
    {
        using var w = new World(azurite, fromJournal);
        await w.SeedAsync();
        w.Archive.Clock.Advance(TimeSpan.FromHours(1));
        var at = w.Archive.Clock.GetUtcNow();
        await using var host = await w.HostAsync();

        var request = await w.StartAsync(host.Client);
        var done = await World.WaitAsync(host.Client, request.Id);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
        var result = done.ReadOutputAs<ContextSnapshotResult>()!;
        Assert.Equal(ContextSnapshotOutcome.Complete, result.Outcome);
        var manifest = await w.Snapshotter.GetManifestAsync(request.Id);
        Assert.NotNull(manifest);
        Assert.Equal(at, manifest!.AsOf);
        Assert.Equal(30, manifest.Population);
        // 3 strata of 10 members: 10% of each is 1, so the floor of 2 per stratum holds: light and heavy are both present.
        Assert.Equal([2, 2, 2], manifest.MembersPerStratum);
        Assert.Equal(w.Encoder.ConfigHash, manifest.ConfigHash);
        Assert.Equal(12, manifest.CatalogEntries);
        Assert.NotNull(manifest.TitleStatsBlob); // no derived title-stats version was current at T: recomputed at T
        Assert.Equal(manifest.Parts.Sum(p => p.Bytes), manifest.Bytes);
        Assert.True(manifest.Bytes > 0);

        var loaded = await w.Snapshotter.LoadAsync(request.Id, new TitleStatsVersions(w.Derived, new DerivedDataStore(azurite.Blobs(), "unused" + azurite.NewPrefix()), w.Encoder));
        Assert.Equal(6, loaded.Members.Count);
        Assert.Contains(loaded.Members, m => m.Stratum == 0 && m.Activity <= 10);
        Assert.Contains(loaded.Members, m => m.Stratum == 2 && m.Activity > 20);
        foreach (var member in loaded.Members)
        {
            // Exactly what serving's live read returns for the member at T.
            var live = await w.Archive.Reader.HistoryAsync(member.Member, w.Encoder.Config.HistoryLimit, at);
            Assert.Equal(live.Select(f => f.Fact), member.Facts);
            Assert.All(member.Facts, f => Assert.True(KnownAt.IsKnown(f, at)));
        }

        Assert.Equal(manifest.MemberFacts, loaded.Members.Sum(m => m.Facts.Count));
        // From the journal: no member read through the live interface; else one read per member to plan, one per sampled member to capture.
        Assert.Equal(fromJournal ? 0 : 30 + 6, w.LiveReads.Reads);
        Assert.Equal(12, loaded.Catalog.Count);
        Assert.Equal(loaded.Members.Sum(m => m.Facts.Count) > 0, loaded.TitleStats.TotalRatings > 0);
        Assert.Contains(await w.Snapshotter.ListAsync(), m => m.Id == request.Id);

        // The same T and sample again is the same snapshot, never a second one.
        var again = await Assert.ThrowsAsync<SnapshotRefusedException>(() => w.StartAsync(host.Client, at));
        Assert.Equal(409, again.Status);
        Assert.Single(await w.Snapshotter.ListAsync());
    }

    [Fact]
    public async Task A_future_T_an_empty_sample_and_unknown_members_are_refused_or_reported()
    {
        using var w = new World(azurite);
        await w.SeedAsync(members: 4);
        w.Archive.Clock.Advance(TimeSpan.FromHours(1));
        await using var host = await w.HostAsync();
        var now = w.Archive.Clock.GetUtcNow();

        var future = await Assert.ThrowsAsync<SnapshotRefusedException>(() => w.StartAsync(host.Client, now.AddHours(1)));
        Assert.Equal(400, future.Status);
        Assert.Contains("future", future.Message, StringComparison.Ordinal);

        var empty = await Assert.ThrowsAsync<SnapshotRefusedException>(() => w.StartAsync(host.Client, members: []));
        Assert.Equal(400, empty.Status);
        Assert.Contains("empty sample", empty.Message, StringComparison.Ordinal);
        Assert.Equal(400, (await Assert.ThrowsAsync<SnapshotRefusedException>(() => w.StartAsync(host.Client, rate: 0))).Status);
        Assert.Equal(400, (await Assert.ThrowsAsync<SnapshotRefusedException>(() => w.StartAsync(host.Client, members: ["bad member!"]))).Status);

        // Only unknown members: nothing to capture, the run says so and writes no snapshot.
        var unknown = await w.StartAsync(host.Client, members: ["nobody", "ghost"]);
        var done = await World.WaitAsync(host.Client, unknown.Id);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
        var result = done.ReadOutputAs<ContextSnapshotResult>()!;
        Assert.Equal(ContextSnapshotOutcome.Empty, result.Outcome);
        Assert.Contains("nothing to capture", result.Reason, StringComparison.Ordinal);
        Assert.Null(await w.Snapshotter.GetManifestAsync(unknown.Id));

        // Known and unknown: the known are captured, the unknown listed in the manifest.
        var mixed = await w.StartAsync(host.Client, members: ["2", "nobody"]);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await World.WaitAsync(host.Client, mixed.Id)).RuntimeStatus);
        var manifest = (await w.Snapshotter.GetManifestAsync(mixed.Id))!;
        Assert.Equal(1, manifest.Members);
        Assert.Equal(["nobody"], manifest.WithoutHistory);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_interrupted_run_resumes_to_one_complete_snapshot(bool fromJournal)
    {
        using var w = new World(azurite, fromJournal);
        await w.SeedAsync();
        var flaky = new FailsOnce(w.Snapshotter);
        await using var host = await w.HostAsync(flaky);

        var request = await w.StartAsync(host.Client, rate: 1.0);
        var done = await World.WaitAsync(host.Client, request.Id);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
        Assert.Equal(2, flaky.Attempts); // failed once, retried once
        var manifests = await w.Snapshotter.ListAsync();
        var manifest = Assert.Single(manifests);
        Assert.Equal(30, manifest.Members);
        Assert.Equal(ContextSnapshotInstances.Partitions, manifest.Parts.Count(p => p.Blob.Contains("/members-", StringComparison.Ordinal)));
        var loaded = await w.Snapshotter.LoadAsync(request.Id, new TitleStatsVersions(w.Derived, new DerivedDataStore(azurite.Blobs(), "unused" + azurite.NewPrefix()), w.Encoder));
        Assert.Equal(30, loaded.Members.Select(m => m.Member).Distinct().Count());
        Assert.Equal(Enumerable.Range(1, 30).Sum(), loaded.Members.Sum(m => m.Facts.Count));
    }

    [Fact]
    public async Task A_run_that_fails_for_good_leaves_no_complete_snapshot()
    {
        using var w = new World(azurite);
        await w.SeedAsync();
        var broken = new FailsOnce(w.Snapshotter, forGood: true);
        await using var host = await w.HostAsync(broken);

        var request = await w.StartAsync(host.Client, rate: 1.0);
        var done = await World.WaitAsync(host.Client, request.Id);

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.RuntimeStatus);
        Assert.Equal(3, broken.Attempts); // every attempt of the retry policy
        Assert.Null(await w.Snapshotter.GetManifestAsync(request.Id));
        Assert.Empty(await w.Snapshotter.ListAsync());
    }

    [Fact]
    public async Task A_training_set_from_a_snapshot_uses_the_shared_encoder_at_T_labels_from_after_T_and_records_its_lineage()
    {
        using var w = new World(azurite);
        await w.SeedAsync();
        w.Archive.Clock.Advance(TimeSpan.FromHours(1));
        var at = w.Archive.Clock.GetUtcNow();
        await using var host = await w.HostAsync();
        var request = await w.StartAsync(host.Client, rate: 1.0);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await World.WaitAsync(host.Client, request.Id)).RuntimeStatus);

        // What the members rated after T (learned 40 days later): the labels.
        w.Archive.Clock.Advance(TimeSpan.FromDays(40));
        await w.Archive.Archive.IngestAsync(Enumerable.Range(0, 30).Select(m => w.Archive.Event(ArchiveHarness.Rating(m, (m + 5) % 12, m % 2 == 0 ? 5 : 1, at.AddDays(1 + (m % 20)), id: $"rating:{m}:after"))).ToList());
        var source = new ContextSnapshotSource(request.Id, w.Snapshotter, new TitleStatsVersions(w.Derived, new DerivedDataStore(azurite.Blobs(), "unused" + azurite.NewPrefix()), w.Encoder), w.Archive.Reader, w.Encoder);
        IReadOnlyList<ITrainingSetSource> sources = [source];
        var asInterface = sources[0];

        var sourced = await asInterface.BuildAsync(new TrainingSetQuery(w.Archive.Clock.GetUtcNow(), new Serverless.Training.TrainingSetOptions()));

        Assert.Equal(TrainingSetSources.ContextSnapshot, asInterface.Name);
        var rows = sourced.Set.Train.Concat(sourced.Set.Validation).ToList();
        Assert.InRange(rows.Count(r => r.Label), 15, 15); // 15 members liked their rating after T
        Assert.Equal(30, sourced.Set.Contexts!.Count(c => c.Title == ((int.Parse(c.Member, System.Globalization.CultureInfo.InvariantCulture) + 5) % 12).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.All(sourced.Set.Contexts!, c => Assert.Equal(at, c.Time));
        Assert.Equal("context-snapshot:" + request.Id, sourced.Lineage.Reference);
        Assert.Equal((at, at.AddDays(30)), (sourced.Lineage.From, sourced.Lineage.To));
        Assert.Equal(w.Encoder.ConfigHash, sourced.Lineage.ConfigHash);
        // Every row recomputed by the encoder from only what was known at T: bit for bit the same.
        Assert.True(sourced.Leakage.Clean, sourced.Leakage.Summary());
        Assert.Equal(rows.Count, sourced.Leakage.Checked);

        // Labels need the whole horizon known: a watermark before T + horizon is refused.
        var early = await Assert.ThrowsAsync<SnapshotRefusedException>(() => source.BuildAsync(new TrainingSetQuery(at.AddDays(10), new Serverless.Training.TrainingSetOptions())));
        Assert.Equal(400, early.Status);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Late_and_corrected_facts_are_seen_only_by_a_snapshot_after_their_ingest_time(bool fromJournal)
    {
        using var w = new World(azurite, fromJournal);
        var h = w.Archive;
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(1, 1, 2, T0, id: "rating:1:1")), h.Event(ArchiveHarness.Rating(1, 2, 3, T0.AddDays(1), id: "rating:1:2"))]);
        h.Clock.Advance(TimeSpan.FromDays(1));
        var before = h.Clock.GetUtcNow();
        h.Clock.Advance(TimeSpan.FromDays(1));

        // Learned after `before`: a late rating that happened long before it, and a correction of rating:1:1.
        await h.Archive.IngestAsync([
            h.Event(ArchiveHarness.Rating(1, 3, 5, T0.AddDays(2), id: "rating:1:3:late")),
            h.Event(ArchiveHarness.Rating(1, 1, 4.5, T0, id: "rating:1:1:fixed", supersedes: "rating:1:1")),
        ]);
        h.Clock.Advance(TimeSpan.FromHours(1));
        var after = h.Clock.GetUtcNow();
        await using var host = await w.HostAsync();

        var old = await w.StartAsync(host.Client, before, members: ["1"]);
        var late = await w.StartAsync(host.Client, after, members: ["1"]);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await World.WaitAsync(host.Client, old.Id)).RuntimeStatus);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, (await World.WaitAsync(host.Client, late.Id)).RuntimeStatus);
        var stats = new TitleStatsVersions(w.Derived, new DerivedDataStore(azurite.Blobs(), "unused" + azurite.NewPrefix()), w.Encoder);

        var seenBefore = Assert.Single((await w.Snapshotter.LoadAsync(old.Id, stats)).Members).Facts;
        Assert.Equal(["rating:1:1", "rating:1:2"], seenBefore.Select(f => f.Id).Order(StringComparer.Ordinal));
        Assert.Equal(2, seenBefore.Single(f => f.Id == "rating:1:1").Value);

        var seenAfter = Assert.Single((await w.Snapshotter.LoadAsync(late.Id, stats)).Members).Facts;
        Assert.Equal(["rating:1:1:fixed", "rating:1:2", "rating:1:3:late"], seenAfter.Select(f => f.Id).Order(StringComparer.Ordinal));
        Assert.Equal(4.5, seenAfter.Single(f => f.Title == "1").Value);
    }
}
