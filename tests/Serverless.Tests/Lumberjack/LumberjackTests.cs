using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Serverless.Archive;
using Serverless.Events;
using Serverless.Lumberjack;
using Serverless.Ranking;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Lumberjack;

[Collection(AzuriteCollection.Name)]
public sealed class LumberjackTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset T0 = ArchiveHarness.Start.AddDays(-100);
    private static readonly int[] ImpressionTitles = [10, 11, 12, 13];

    private sealed class EmptyServices : IServiceProvider
    {
        public object? GetService(Type serviceType) => null;
    }

    private static FeatureLogRecord Record(string member, string title, DateTimeOffset at, int position = 0, string logId = "log1") =>
        new(logId, at, member, title, position, "v1", "hash1", [1f, 2.5f, -3f], 0.7f, at.AddMinutes(-5), false);

    private static IncomingEvent Event(byte[] body, long seq) => new(body, T0, seq);

    private static byte[] Json(params FeatureLogRecord[] records) => FeatureLogEvent.From(records).ToJson();

    [Fact]
    public void The_serving_writer_produces_the_event_the_trigger_reads()
    {
        using var request = LoggedRequest.Capture("log9", T0, "7", "v1", "hash1", T0.AddMinutes(-1), false,
            ["10", "11", "12"], [[1f, 2f], [3f, 4f], [5f, float.Epsilon]], [0.1f, 0.9f, 0.5f], [1, 2, 0]);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            FeatureLogEvent.Write(writer, request);
        }

        var (records, error) = FeatureLogEvent.Parse(buffer.WrittenSpan);
        Assert.Null(error);
        Assert.Equal(request.Records(), records!, new RecordComparer());
        Assert.Equal(["11", "12", "10"], records!.Select(r => r.Title));
    }

    private sealed class RecordComparer : IEqualityComparer<FeatureLogRecord>
    {
        public bool Equals(FeatureLogRecord? x, FeatureLogRecord? y) =>
            x is not null && y is not null && x with { Features = [] } == y with { Features = [] } && x.Features.SequenceEqual(y.Features);

        public int GetHashCode(FeatureLogRecord obj) => obj.LogId.GetHashCode(StringComparison.Ordinal);
    }

    [Fact]
    public void A_request_event_round_trips_bit_exact_and_bad_ones_are_refused_with_a_reason()
    {
        var good = Record("1", "2", T0) with { Features = [1f, float.Epsilon, -0f, 3.4028235e38f] };
        var second = Record("1", "3", T0, position: 1);
        var (parsed, error) = FeatureLogEvent.Parse(Json(good, second));
        Assert.Null(error);
        Assert.Equal(2, parsed!.Count);
        Assert.Equal(good.Features.Select(BitConverter.SingleToInt32Bits), parsed[0].Features.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(good with { Features = parsed[0].Features }, parsed[0]);
        Assert.Equal("3", parsed[1].Title);

        Assert.Contains("malformed JSON", FeatureLogEvent.Parse("{"u8).Error, StringComparison.Ordinal);
        Assert.Contains("schemaVersion", FeatureLogEvent.Parse("""{"schemaVersion":9}"""u8).Error, StringComparison.Ordinal);
        Assert.Contains("character outside", FeatureLogEvent.Parse(Json(good with { Member = "1' or ''='" })).Error, StringComparison.Ordinal);
        Assert.Contains("character outside", FeatureLogEvent.Parse(Json(good with { Title = "a/b" })).Error, StringComparison.Ordinal);
        Assert.Contains("float32 features", FeatureLogEvent.Parse(Json(good with { Features = [] })).Error, StringComparison.Ordinal);
        Assert.Contains("finite", FeatureLogEvent.Parse(Json(good with { Features = [float.NaN] })).Error, StringComparison.Ordinal);
        Assert.Contains("after the request time", FeatureLogEvent.Parse(Json(good with { Watermark = T0.AddDays(1) })).Error, StringComparison.Ordinal);

        // A null candidate used to throw, and a throwing event is redelivered forever: now it is refused with a reason.
        var withNull = System.Text.Json.Nodes.JsonNode.Parse(Json(good))!;
        withNull["items"]!.AsArray().Add(null);
        Assert.Contains("items must not hold null", FeatureLogEvent.Parse(Encoding.UTF8.GetBytes(withNull.ToJsonString())).Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Sampling_is_per_member_and_close_to_the_rate()
    {
        var members = Enumerable.Range(0, 20_000).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var sampled = members.Count(m => FeatureLogSampler.IsSampled(m, 0.25));
        Assert.InRange(sampled, 4_500, 5_500);
        // Stable across processes (not .NET's randomized string hash): FNV-1a of "a" is 0xe40c292c by its published test vectors,
        // 3826002220 % 10000 = 2220, so "a" is sampled just above rate 0.222 and not just below it.
        Assert.True(FeatureLogSampler.IsSampled("a", 0.22205));
        Assert.False(FeatureLogSampler.IsSampled("a", 0.22195));

        // Nested: a member logged at a rate stays logged at every higher rate (raising the rate never splits a session).
        var quarter = members.Where(m => FeatureLogSampler.IsSampled(m, 0.25)).ToHashSet();
        var half = members.Where(m => FeatureLogSampler.IsSampled(m, 0.5)).ToHashSet();
        Assert.Subset(half, quarter);
        Assert.True(FeatureLogSampler.IsSampled("x", 1));
        Assert.False(FeatureLogSampler.IsSampled("x", 0));
    }

    [Fact]
    public void A_full_buffer_drops_and_counts_instead_of_blocking()
    {
        using var buffer = new FeatureLogBuffer(Options.Create(new LumberjackOptions { BufferCapacity = 3 }), new EmptyServices(), NullLogger<FeatureLogBuffer>.Instance,
            new ServingMonitor(TimeProvider.System, TestMetrics.Unheard()), TestMetrics.Unheard());
        var requests = Enumerable.Range(0, 10).Select(i => LoggedRequest.Capture("log", T0, "1", "v1", "hash1", T0, false, [$"{i}"], [[1f]], [0.5f], [0])).ToList();
        var accepted = requests.Count(buffer.TryLog);
        Assert.Equal(3, accepted);
        Assert.Equal(7, buffer.Dropped);
        Assert.Equal("2", requests[2].Title(0));
        Assert.All(requests.Skip(3), r => Assert.Throws<ObjectDisposedException>(() => r.Title(0)));
    }

    private static readonly System.Text.Json.JsonSerializerOptions Indented = new(Serverless.Facts.FactJson.Options) { WriteIndented = true };

    private FeatureLogStore Store(ArchiveHarness h) => new(azurite.Tables(), azurite.Blobs(), Options.Create(h.Options), h.Tables, h.Clock);

    private static async Task<Dictionary<string, LoggedImpression>> ByTitleAsync(FeatureLogStore store, string member) =>
        (await store.ReadAsync()).Where(i => i.Record.Member == member).ToDictionary(i => i.Record.Title, i => i);

    [Fact]
    public async Task Requests_land_in_one_file_per_batch_and_hour_redelivery_adds_nothing_and_bad_events_are_dead_lettered()
    {
        using var h = new ArchiveHarness(azurite);
        var store = Store(h);
        await store.EnsureCreatedAsync();

        // 40 requests of 3 members, ten candidates each, spread over two hours; one event of garbage.
        var events = Enumerable.Range(0, 40).Select(r => Event(Json(Enumerable.Range(0, 10)
            .Select(p => Record($"{r % 3}", $"{p}", T0.AddMinutes(r * 3), position: p, logId: $"log{r}")).ToArray()), r)).ToList();
        events.Add(Event(Encoding.UTF8.GetBytes("garbage"), 999));

        var first = await store.IngestAsync(events);
        var again = await store.IngestAsync(events);

        Assert.Equal(new FeatureLogIngestResult(40, 400, 2, 0, 1), first);
        Assert.Equal(new FeatureLogIngestResult(40, 400, 2, 2, 1), again);
        var files = await store.ListAsync(openOnly: false, default);
        Assert.Equal(2, files.Count);
        Assert.Equal(40, files.Sum(f => f.Requests));
        Assert.All(files, f => Assert.Equal(f.MinRequestTime.UtcDateTime.Hour, f.MaxRequestTime.UtcDateTime.Hour));

        // The same requests again in other batch boundaries land in other files; readers keep one copy per log id.
        await store.IngestAsync(events.Skip(5).Take(7).ToList());
        Assert.True((await store.ListAsync(openOnly: false, default)).Count > 2);
        var impressions = await store.ReadAsync();
        Assert.Equal(400, impressions.Count);
        Assert.Equal(130, impressions.Count(i => i.Record.Member == "1"));
        Assert.All(impressions, i => Assert.Null(i.Label));
        var one = impressions.Single(i => i.Record.LogId == "log7" && i.Record.Position == 4);
        Assert.Equal(Record("1", "4", T0.AddMinutes(21), position: 4, logId: "log7") with { Features = one.Record.Features }, one.Record);
        Assert.Equal([1f, 2.5f, -3f], one.Record.Features);
        Assert.Single(await h.Tables.DeadLetters.ReadAsync(FeatureLogStore.DeadLetterSource, 10, default));
    }

    [Fact]
    public async Task A_landed_line_is_one_event_even_when_its_producer_pretty_printed_it()
    {
        using var h = new ArchiveHarness(azurite);
        var store = Store(h);
        await store.EnsureCreatedAsync();
        var pretty = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(FeatureLogEvent.From([Record("4", "9", T0)]), Indented);
        Assert.Contains((byte)'\n', pretty);

        await store.IngestAsync([Event(pretty, 1), Event(Json(Record("4", "8", T0, logId: "log2")), 2)]);

        Assert.Equal(["8", "9"], (await store.ReadAsync()).Select(i => i.Record.Title).Order());
    }

    [Fact]
    public async Task Requests_land_as_plain_json_lines_and_files_landed_gzipped_before_still_read()
    {
        using var h = new ArchiveHarness(azurite);
        var store = Store(h);
        await store.EnsureCreatedAsync();
        var body = Json(Record("5", "1", T0, logId: "plain"));
        await store.IngestAsync([Event(body, 1)]);

        var landed = Assert.Single(await store.ListAsync(openOnly: false, default));
        Assert.False(landed.Gzip);
        Assert.EndsWith(".jsonl", landed.RequestsBlob);
        var raw = (await store.Container.GetBlobClient(landed.RequestsBlob).DownloadContentAsync()).Value.Content.ToArray();
        Assert.Equal([.. body, (byte)'\n'], raw);

        // A file landed by an earlier version: gzip'd, named .jsonl.gz, its index row without the Gzip property.
        var old = Json(Record("6", "2", T0.AddHours(3), logId: "old"));
        const string id = "2099010100_0000000000000000001_00000000000000ff";
        var legacy = new LandedFile(id, 1, 1, T0.AddHours(3), T0.AddHours(3), T0, null, false, Gzip: true);
        using (var gzipped = new MemoryStream())
        {
            using (var gzip = new System.IO.Compression.GZipStream(gzipped, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            {
                gzip.Write(old);
                gzip.WriteByte((byte)'\n');
            }

            gzipped.Position = 0;
            await store.Container.GetBlobClient(legacy.RequestsBlob).UploadAsync(gzipped);
        }

        await store.Files.AddEntityAsync(new Azure.Data.Tables.TableEntity(FeatureLogStore.OpenPartition, id)
        {
            [nameof(LandedFile.Requests)] = 1,
            [nameof(LandedFile.Impressions)] = 1,
            [nameof(LandedFile.MinRequestTime)] = legacy.MinRequestTime,
            [nameof(LandedFile.MaxRequestTime)] = legacy.MaxRequestTime,
            [nameof(LandedFile.LandedAt)] = legacy.LandedAt,
        });

        Assert.EndsWith(".jsonl.gz", legacy.RequestsBlob);
        Assert.Equal(["plain:1", "old:2"], (await store.ReadAsync()).Select(i => $"{i.Record.LogId}:{i.Record.Title}"));
    }

    [Theory]
    [InlineData(512)]  // the member's ratings come from one read of the recent-history entity
    [InlineData(1)]    // the entity holds too few: the batch interface answers
    public async Task Labels_join_later_ratings_within_the_horizon_and_late_facts_update_them(int recentHistoryCap)
    {
        using var h = new ArchiveHarness(azurite, o => o.RecentHistoryCap = recentHistoryCap);
        var options = Options.Create(new LumberjackOptions { LabelHorizon = TimeSpan.FromDays(30), LateWindow = TimeSpan.FromDays(120) });
        var store = Store(h);
        await store.EnsureCreatedAsync();
        var joiner = new LabelJoiner(store, h.Reader, options, h.Clock);

        // Impressions at T0 of titles 10 (liked 5 days later), 11 (disliked), 12 (never rated), 13 (rated after the horizon),
        // and one at Start - 2 days whose horizon is still open (another batch: another file).
        await store.IngestAsync(
        [
            Event(Json(ImpressionTitles.Select((t, i) => Record("5", $"{t}", T0, position: i)).ToArray()), 1),
            Event(Json(Record("77", "10", T0, logId: "log3")), 10),    // a cold-start member the archive knows nothing about
        ]);
        await store.IngestAsync([Event(Json(Record("5", "14", ArchiveHarness.Start.AddDays(-2), logId: "log2")), 9)]);
        await h.Archive.IngestAsync(
        [
            h.Event(ArchiveHarness.Rating(5, 10, 4.5, T0.AddDays(5))),
            h.Event(ArchiveHarness.Rating(5, 11, 2, T0.AddDays(6))),
            h.Event(ArchiveHarness.Rating(5, 13, 5, T0.AddDays(40))),
        ]);

        var run = await joiner.RunAsync();
        Assert.Equal(5, run.Labelled);
        Assert.Equal(1, run.Liked);
        Assert.Equal(1, run.StillOpen);
        Assert.Equal(1, run.Files);
        Assert.Equal(2, run.Members);
        Assert.False((await ByTitleAsync(store, "77"))["10"].Label);

        var labels = await ByTitleAsync(store, "5");
        Assert.True(labels["10"].Label);
        Assert.Equal("rating:5:10", labels["10"].LabelFactId);
        Assert.False(labels["11"].Label);
        Assert.False(labels["12"].Label);
        Assert.Null(labels["12"].LabelFactId);
        Assert.False(labels["13"].Label);
        Assert.Null(labels["14"].Label);

        // A late correction: title 11 was really rated 5. Within the late window the label follows it.
        h.Clock.Advance(TimeSpan.FromDays(1));
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(5, 11, 5, T0.AddDays(6), id: "rating:5:11:v2", supersedes: "rating:5:11"))]);
        var late = await joiner.RunAsync();
        Assert.Equal(1, late.Changed);
        var relabelled = (await ByTitleAsync(store, "5"))["11"];
        Assert.True(relabelled.Label);
        Assert.Equal("rating:5:11:v2", relabelled.LabelFactId);

        // Past the late window the file's labels are final: a later correction no longer changes them, and runs skip the file.
        h.Clock.Advance(TimeSpan.FromDays(200));
        Assert.Equal(2, (await joiner.RunAsync()).Files);
        Assert.Empty(await store.ListAsync(openOnly: true, default));
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(5, 11, 1, T0.AddDays(6), id: "rating:5:11:v3", supersedes: "rating:5:11:v2"))]);
        Assert.Equal(0, (await joiner.RunAsync()).Files);
        Assert.True((await ByTitleAsync(store, "5"))["11"].Label);
        Assert.Equal(6, (await store.LabelledAsync("hash1", default)).Count);
        Assert.Empty(await store.LabelledAsync("another-config", default));
    }

    [Fact]
    public async Task A_training_set_of_logged_features_comes_from_the_landed_files_and_their_labels()
    {
        using var h = new ArchiveHarness(azurite);
        var options = Options.Create(new LumberjackOptions { LabelHorizon = TimeSpan.FromDays(30), LateWindow = TimeSpan.FromDays(7) });
        var store = Store(h);
        await store.EnsureCreatedAsync();

        // 12 requests of member 5, one a day, three candidates each; the member likes title 1 two days after every request.
        // Two batches, and one request delivered in both (a redelivery with other boundaries).
        var requests = Enumerable.Range(0, 12).Select(d => Event(Json(Enumerable.Range(0, 3).Select(t =>
            Record("5", $"{t}", T0.AddDays(d), position: t, logId: $"log{d}") with { Features = [d, t, d * 10 + t] }).ToArray()), d)).ToList();
        await store.IngestAsync(requests.Take(7).ToList());
        await store.IngestAsync(requests.Skip(6).ToList());
        await h.Archive.IngestAsync(Enumerable.Range(0, 12).Select(d => h.Event(ArchiveHarness.Rating(5, 1, 4, T0.AddDays(d + 2), id: $"like:{d}"))).ToList());
        await new LabelJoiner(store, h.Reader, options, h.Clock).RunAsync();

        var set = Serverless.Training.TrainingSetBuilder.FromLogs(await store.LabelledAsync("hash1", default), "hash1", featureCount: 3, validationShare: 0.25);

        Assert.Equal(27, set.Train.Count);
        Assert.Equal(9, set.Validation.Count);
        var all = set.Train.Concat(set.Validation).ToList();
        Assert.Equal(Enumerable.Range(0, 12).SelectMany(d => Enumerable.Range(0, 3).Select(t => new[] { (float)d, t, d * 10 + t })), all.Select(e => e.Features), new FloatsComparer());
        Assert.All(all, e => Assert.Equal(e.Features[1] == 1f, e.Label));
    }

    private sealed class FloatsComparer : IEqualityComparer<float[]>
    {
        public bool Equals(float[]? x, float[]? y) => x is not null && y is not null && x.SequenceEqual(y);

        public int GetHashCode(float[] obj) => obj.Length;
    }

    [Fact]
    public async Task A_redelivered_batch_does_not_reopen_a_file_whose_labels_are_final()
    {
        using var h = new ArchiveHarness(azurite);
        var options = Options.Create(new LumberjackOptions { LabelHorizon = TimeSpan.FromDays(30), LateWindow = TimeSpan.FromDays(7) });
        var store = Store(h);
        await store.EnsureCreatedAsync();
        var batch = new[] { Event(Json(Record("5", "10", T0)), 1) };
        await store.IngestAsync(batch);
        Assert.Equal(1, (await new LabelJoiner(store, h.Reader, options, h.Clock).RunAsync()).Files);
        Assert.Empty(await store.ListAsync(openOnly: true, default));

        var again = await store.IngestAsync(batch);

        Assert.Equal(1, again.AlreadyLanded);
        Assert.Empty(await store.ListAsync(openOnly: true, default));
        Assert.True(Assert.Single(await store.ListAsync(openOnly: false, default)).Final);
    }

    [Fact]
    public async Task A_final_file_is_read_from_storage_once_and_an_open_one_every_time()
    {
        using var h = new ArchiveHarness(azurite);
        var options = Options.Create(new LumberjackOptions { LabelHorizon = TimeSpan.FromDays(30), LateWindow = TimeSpan.FromDays(7) });
        var store = Store(h);
        await store.EnsureCreatedAsync();

        // An old request (its labels final after the run) and a recent one (its file still open).
        await store.IngestAsync([Event(Json(Record("5", "10", T0.AddDays(-100), logId: "old")), 1)]);
        await store.IngestAsync([Event(Json(Record("5", "11", h.Clock.GetUtcNow().AddDays(-1), logId: "new")), 2)]);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(5, 10, 5, T0.AddDays(-99), id: "like:old"))]);
        await new LabelJoiner(store, h.Reader, options, h.Clock).RunAsync();
        var files = await store.ListAsync(openOnly: false, default);
        var final = Assert.Single(files, f => f.Final);
        var open = Assert.Single(files, f => !f.Final);

        var first = await store.LabelledAsync("hash1", default);
        Assert.Equal(1, store.Finals.Impressions);

        // The final file's blobs are gone from storage, yet the next read answers the same: it came from memory.
        await store.Container.DeleteBlobAsync(final.RequestsBlob);
        await store.Container.DeleteBlobAsync(final.LabelsBlob);
        var again = await store.LabelledAsync("hash1", default);
        Assert.Equal(first.Select(i => (i.Record.LogId, i.Label)), again.Select(i => (i.Record.LogId, i.Label)));
        Assert.Equal([("old", (bool?)true)], again.Select(i => (i.Record.LogId, i.Label)));

        // An open file may still change: it is read from storage every time.
        await store.Container.DeleteBlobAsync(open.RequestsBlob);
        await Assert.ThrowsAsync<InvalidDataException>(() => store.ReadAsync());
    }

    [Fact]
    public async Task Marking_many_files_writes_their_index_rows_in_transactions_and_survives_a_row_already_moved()
    {
        using var h = new ArchiveHarness(azurite);
        var store = Store(h);
        await store.EnsureCreatedAsync();
        // 150 requests an hour apart: 150 files, more than one transaction holds.
        await store.IngestAsync(Enumerable.Range(0, 150).Select(i => Event(Json(Record("5", "10", T0.AddHours(i), logId: $"log{i}")), i)).ToList());
        var files = await store.ListAsync(openOnly: true, default);
        Assert.Equal(150, files.Count);

        // A concurrent run already moved one file to final.
        await store.MarkLabelledAsync([(files[7], true)], T0, default);
        var at = T0.AddDays(400);
        await store.MarkLabelledAsync(files.Select((f, i) => (f, i % 3 != 0)).ToList(), at, default);

        var listed = await store.ListAsync(openOnly: false, default);
        Assert.Equal(150, listed.Count);
        Assert.All(listed, f => Assert.Equal(at, f.LabelledAt));
        Assert.Equal(files.Where((_, i) => i % 3 != 0).Select(f => f.Id), listed.Where(f => f.Final).Select(f => f.Id));
        Assert.Equal(files.Where((_, i) => i % 3 == 0).Select(f => f.Id), (await store.ListAsync(openOnly: true, default)).Select(f => f.Id));
    }

    [Fact]
    public void The_final_file_cache_keeps_at_most_its_bound_and_lets_the_least_recently_read_go_first()
    {
        static FinalFileCache.Entry Entry(int impressions) => new(
            [new LandedRequest("l", "5", T0, Enumerable.Range(0, impressions).Select(i => Record("5", $"{i}", T0, i)).ToList())], null);

        var cache = new FinalFileCache(maxImpressions: 10);
        cache.Keep("a", Entry(4));
        cache.Keep("b", Entry(4));
        Assert.True(cache.TryGet("a", out _)); // a is now the most recently read
        cache.Keep("c", Entry(4));             // 12 > 10: b goes

        Assert.False(cache.TryGet("b", out _));
        Assert.True(cache.TryGet("a", out _));
        Assert.True(cache.TryGet("c", out _));
        Assert.Equal(8, cache.Impressions);

        cache.Keep("huge", Entry(11));         // larger than the whole bound: not kept, nothing evicted
        Assert.False(cache.TryGet("huge", out _));
        Assert.Equal(8, cache.Impressions);
    }

    [Fact]
    public async Task A_run_that_stopped_between_writing_labels_and_marking_the_file_is_finished_by_the_next()
    {
        // A never-labelled file's labels are written without reading first; wrong labels left by a run that
        // stopped before marking the file are read, compared and replaced, and the file is marked.
        using var h = new ArchiveHarness(azurite);
        var options = Options.Create(new LumberjackOptions { LabelHorizon = TimeSpan.FromDays(30), LateWindow = TimeSpan.FromDays(120) });
        var store = Store(h);
        await store.EnsureCreatedAsync();
        await store.IngestAsync([Event(Json(Enumerable.Range(0, 4).Select(t => Record("3", $"{t}", T0, position: t, logId: "log-stopped")).ToArray()), 1)]);
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(3, 0, 5, T0.AddDays(2))), h.Event(ArchiveHarness.Rating(3, 1, 5, T0.AddDays(3)))]);
        var file = Assert.Single(await store.ListAsync(openOnly: true, default));
        Assert.Null(file.LabelledAt);
        Assert.True(await store.WriteLabelsAsync(file, [new RequestLabels("log-stopped", [false, false, false, true], ["", "", "", "x"])], null, default));

        var run = await new LabelJoiner(store, h.Reader, options, h.Clock).RunAsync();

        Assert.Equal((4, 0, 3), (run.Labelled, run.Conflicts, run.Changed));
        Assert.Equal([true, true, false, false], (await store.ReadAsync()).OrderBy(i => i.Record.Position).Select(i => i.Label));
        Assert.NotNull(Assert.Single(await store.ListAsync(openOnly: false, default)).LabelledAt);
    }

    [Fact]
    public async Task Concurrent_label_runs_finish_and_agree_on_every_label()
    {
        // The hourly timer and an operator's request may run at once: neither may fail on the other's writes.
        using var h = new ArchiveHarness(azurite);
        var options = Options.Create(new LumberjackOptions { LabelHorizon = TimeSpan.FromDays(30), LateWindow = TimeSpan.FromDays(120) });
        var store = Store(h);
        await store.EnsureCreatedAsync();
        var joiners = Enumerable.Range(0, 4).Select(_ => new LabelJoiner(store, h.Reader, options, h.Clock)).ToList();
        await store.IngestAsync(Enumerable.Range(0, 3).Select(m =>
            Event(Json(Enumerable.Range(0, 60).Select(t => Record($"{m}", $"{t}", T0, position: t, logId: $"log{m}")).ToArray()), m)).ToList());
        await h.Archive.IngestAsync(Enumerable.Range(0, 3).SelectMany(m =>
            Enumerable.Range(0, 60).Where(t => t % 3 == 0).Select(t => h.Event(ArchiveHarness.Rating(m, t, t % 2 == 0 ? 5 : 2, T0.AddDays(2))))).ToList());

        var runs = await Task.WhenAll(joiners.Select(j => Task.Run(() => j.RunAsync())));

        Assert.All(runs, r => Assert.Equal(180, r.Labelled));
        // One file: a run wrote all of its labels, met another's write (a conflict), or found them written already.
        Assert.All(runs, r => Assert.True(r is { Changed: 180, Conflicts: 0 } or { Changed: 0, Conflicts: 1 } or { Changed: 0, Conflicts: 0 }, r.ToString()));
        Assert.Contains(runs, r => r.Changed == 180);
        var labels = (await store.ReadAsync()).ToList();
        Assert.Equal(180, labels.Count);
        Assert.All(labels, i => Assert.Equal(int.Parse(i.Record.Title, System.Globalization.CultureInfo.InvariantCulture) % 6 == 0, i.Label));

        var again = await joiners[0].RunAsync();
        Assert.Equal(0, again.Changed);
        Assert.Equal(0, again.Conflicts);
    }
}
