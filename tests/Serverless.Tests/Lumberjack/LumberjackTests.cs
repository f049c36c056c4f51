using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Serverless.Archive;
using Serverless.Events;
using Serverless.Lumberjack;
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
        Assert.All(members.Take(100), m => Assert.Equal(FeatureLogSampler.IsSampled(m, 0.25), FeatureLogSampler.IsSampled(m, 0.25)));
        Assert.True(FeatureLogSampler.IsSampled("x", 1));
        Assert.False(FeatureLogSampler.IsSampled("x", 0));
    }

    [Fact]
    public void A_full_buffer_drops_and_counts_instead_of_blocking()
    {
        using var buffer = new FeatureLogBuffer(Options.Create(new LumberjackOptions { BufferCapacity = 3 }), new EmptyServices(), NullLogger<FeatureLogBuffer>.Instance);
        var requests = Enumerable.Range(0, 10).Select(i => LoggedRequest.Capture("log", T0, "1", "v1", "hash1", T0, false, [$"{i}"], [[1f]], [0.5f], [0])).ToList();
        var accepted = requests.Count(buffer.TryLog);
        Assert.Equal(3, accepted);
        Assert.Equal(7, buffer.Dropped);
        Assert.Equal("2", requests[2].Title(0));
        Assert.All(requests.Skip(3), r => Assert.Throws<ObjectDisposedException>(() => r.Title(0)));
    }

    [Fact]
    public async Task Redelivered_records_are_stored_once_and_bad_ones_are_dead_lettered()
    {
        using var h = new ArchiveHarness(azurite);
        var store = new FeatureLogStore(azurite.Tables(), Options.Create(h.Options), h.Tables, h.Clock);
        await store.EnsureCreatedAsync();
        var events = Enumerable.Range(0, 120).Select(i => Event(Json(Record($"{i % 3}", $"{i}", T0.AddMinutes(i), position: i % 10)), i)).ToList();
        events.Add(Event(Encoding.UTF8.GetBytes("garbage"), 999));

        var first = await store.IngestAsync(events);
        var again = await store.IngestAsync(events);

        Assert.Equal(120, first.Stored);
        Assert.Equal(1, first.DeadLettered);
        Assert.Equal(0, again.Stored);
        Assert.Equal(120, again.Duplicates);
        Assert.Equal(40, (await store.ForMemberAsync("1", DateTimeOffset.MinValue.AddYears(1), DateTimeOffset.MaxValue.AddYears(-1), default)).Count);
        Assert.Single(await h.Tables.DeadLetters.ReadAsync(FeatureLogStore.DeadLetterSource, 10, default));
    }

    [Fact]
    public async Task Labels_join_later_ratings_within_the_horizon_and_late_facts_update_them()
    {
        using var h = new ArchiveHarness(azurite);
        var options = Options.Create(new LumberjackOptions { LabelHorizon = TimeSpan.FromDays(30), LateWindow = TimeSpan.FromDays(120) });
        var store = new FeatureLogStore(azurite.Tables(), Options.Create(h.Options), h.Tables, h.Clock);
        await store.EnsureCreatedAsync();
        var joiner = new LabelJoiner(store, h.Reader, options, h.Clock);

        // Impressions at T0 of titles 10 (liked 5 days later), 11 (disliked), 12 (never rated), 13 (rated after the horizon),
        // and one at Start - 2 days whose horizon is still open.
        await store.IngestAsync(
        [
            Event(Json(ImpressionTitles.Select((t, i) => Record("5", $"{t}", T0, position: i)).ToArray()), 1),
            Event(Json(Record("5", "14", ArchiveHarness.Start.AddDays(-2), logId: "log2")), 9),
            Event(Json(Record("77", "10", T0, logId: "log3")), 10),    // a cold-start member the archive knows nothing about
        ]);
        await h.Archive.IngestAsync(
        [
            h.Event(ArchiveHarness.Rating(5, 10, 4.5, T0.AddDays(5))),
            h.Event(ArchiveHarness.Rating(5, 11, 2, T0.AddDays(6))),
            h.Event(ArchiveHarness.Rating(5, 13, 5, T0.AddDays(40))),
        ]);

        var run = await joiner.RunAsync();
        Assert.Equal(5, run.Labelled);
        Assert.Equal(1, run.StillOpen);
        Assert.False(Assert.Single((await store.ForMemberAsync("77", T0.AddDays(-1), ArchiveHarness.Start, default)).Select(FeatureLogStore.FromEntity)).Label);

        var labels = (await store.ForMemberAsync("5", T0.AddDays(-1), ArchiveHarness.Start, default)).Select(FeatureLogStore.FromEntity).ToDictionary(i => i.Record.Title, i => i.Label);
        Assert.True(labels["10"]);
        Assert.False(labels["11"]);
        Assert.False(labels["12"]);
        Assert.False(labels["13"]);
        Assert.Null(labels["14"]);

        // A late correction: title 11 was really rated 5. Within the late window the label follows it.
        h.Clock.Advance(TimeSpan.FromDays(1));
        await h.Archive.IngestAsync([h.Event(ArchiveHarness.Rating(5, 11, 5, T0.AddDays(6), id: "rating:5:11:v2", supersedes: "rating:5:11"))]);
        var late = await joiner.RunAsync();
        Assert.Equal(1, late.Changed);
        var relabelled = (await store.ForMemberAsync("5", T0.AddDays(-1), T0.AddDays(1), default)).Select(FeatureLogStore.FromEntity).Single(i => i.Record.Title == "11");
        Assert.True(relabelled.Label);
        Assert.Equal("rating:5:11:v2", relabelled.LabelFactId);
    }

    [Fact]
    public async Task Concurrent_label_runs_finish_and_agree_on_every_label()
    {
        // The hourly timer and an operator's request may run at once: neither may fail on the other's writes.
        using var h = new ArchiveHarness(azurite);
        var options = Options.Create(new LumberjackOptions { LabelHorizon = TimeSpan.FromDays(30), LateWindow = TimeSpan.FromDays(120) });
        var store = new FeatureLogStore(azurite.Tables(), Options.Create(h.Options), h.Tables, h.Clock);
        await store.EnsureCreatedAsync();
        var joiners = Enumerable.Range(0, 4).Select(_ => new LabelJoiner(store, h.Reader, options, h.Clock)).ToList();
        await store.IngestAsync(Enumerable.Range(0, 3).Select(m =>
            Event(Json(Enumerable.Range(0, 60).Select(t => Record($"{m}", $"{t}", T0, position: t, logId: $"log{m}")).ToArray()), m)).ToList());
        await h.Archive.IngestAsync(Enumerable.Range(0, 3).SelectMany(m =>
            Enumerable.Range(0, 60).Where(t => t % 3 == 0).Select(t => h.Event(ArchiveHarness.Rating(m, t, t % 2 == 0 ? 5 : 2, T0.AddDays(2))))).ToList());

        var runs = await Task.WhenAll(joiners.Select(j => Task.Run(() => j.RunAsync())));

        Assert.All(runs, r => Assert.Equal(180, r.Labelled));
        // Every row was written by some run. (Not exactly once: Azurite's If-Match check on merge is not
        // atomic under concurrent requests, so two runs sometimes both succeed; Azure Tables' is.)
        Assert.InRange(runs.Sum(r => r.Changed), 180, 4 * 180);
        for (var m = 0; m < 3; m++)
        {
            var labels = (await store.ForMemberAsync($"{m}", T0.AddDays(-1), T0.AddDays(1), default)).Select(FeatureLogStore.FromEntity).ToList();
            Assert.Equal(60, labels.Count);
            Assert.All(labels, i => Assert.Equal(int.Parse(i.Record.Title, System.Globalization.CultureInfo.InvariantCulture) % 6 == 0, i.Label));
        }

        var again = await joiners[0].RunAsync();
        Assert.Equal(0, again.Changed);
        Assert.Equal(0, again.Conflicts);
    }
}
