using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Serverless.Archive;
using Serverless.Events;
using Serverless.Features;
using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.Ranking;
using Serverless.TimeMachine;

namespace Serverless.Tests.EndToEnd;

/// <summary>
/// The Time Machine against what is served over HTTP: the skew meter finds no mismatch in clean
/// serving and names an injected skew; the offline replay answers what serving answers.
/// </summary>
public sealed partial class RankingOverHttpTests
{
    private async Task<List<FeatureLogRecord>> ServeAndLogAsync(params string[] members)
    {
        var logIds = new List<string>();
        foreach (var member in members)
        {
            var ranked = await (await Http.PostAsJsonAsync("api/rank", new { member, count = 10 })).Content.ReadFromJsonAsync<RankResponse>();
            Assert.True(ranked!.Logged, $"member {member} was not logged");
            logIds.Add(ranked.LogId);
        }

        var services = fixture.Host.App.Services;
        await services.GetRequiredService<FeatureLogBuffer>().DrainAsync(TimeSpan.FromSeconds(30));
        await fixture.Host.Hub.WaitForIdleAsync(TimeSpan.FromSeconds(30));
        var logged = await services.GetRequiredService<FeatureLogStore>().ReadAsync();
        return logged.Select(i => i.Record).Where(r => logIds.Contains(r.LogId)).OrderBy(r => r.LogId, StringComparer.Ordinal).ThenBy(r => r.Position).ToList();
    }

    /// <summary>A meter over its own feature-log store, holding only <paramref name="requests"/> (each landed as served).</summary>
    private async Task<SkewReport> MeasureAloneAsync(IEnumerable<IReadOnlyList<FeatureLogRecord>> requests, Serverless.Hosting.PlatformMetrics? metrics = null)
    {
        var services = fixture.Host.App.Services;
        var store = new FeatureLogStore(services.GetRequiredService<Azure.Data.Tables.TableServiceClient>(), services.GetRequiredService<Azure.Storage.Blobs.BlobServiceClient>(),
            Options.Create(new ArchiveOptions { TablePrefix = fixture.Azurite.NewPrefix() }), services.GetRequiredService<ArchiveTables>(), TimeProvider.System);
        await store.EnsureCreatedAsync();
        var seq = 0;
        await store.IngestAsync(requests.Select(r => new IncomingEvent(FeatureLogEvent.From(r).ToJson(), DateTimeOffset.UtcNow, seq++)).ToList());
        var meter = new SkewMeter(store, services.GetRequiredService<ArchiveReader>(), services.GetRequiredService<ModelStore>(), services.GetRequiredService<FactSnapshotStore>(),
            services.GetRequiredService<Serverless.Precompute.TitleStatsVersions>(), services.GetRequiredService<FeatureEncoder>(), TimeProvider.System, NullLogger<SkewMeter>.Instance, metrics ?? Fixtures.TestMetrics.Unheard());
        return await meter.MeasureAsync(new SkewMeterRequest());
    }

    [Fact]
    public async Task The_skew_meter_recomputes_served_vectors_offline_with_no_mismatch()
    {
        var served = await ServeAndLogAsync("1", "7", "15");
        var requests = served.GroupBy(r => r.LogId).Select(g => (IReadOnlyList<FeatureLogRecord>)g.ToList()).ToList();
        Assert.Equal(3, requests.Count);

        var report = await MeasureAloneAsync(requests);

        Assert.Equal(3, report.RequestsCompared);
        Assert.Equal(served.Count * (long)FeatureNames.All.Count, report.ValuesCompared);
        Assert.True(report.Mismatches == 0, report.Summary());
        Assert.Empty(report.Skipped);

        // Over HTTP, on everything this host logged: what was served by a model is recomputed exactly.
        var http = await (await Http.PostAsJsonAsync("api/timemachine/skew", new { maxRequests = 50 })).Content.ReadFromJsonAsync<SkewReport>();
        Assert.True(http!.RequestsCompared >= 3);
        Assert.True(http.Mismatches == 0, http.Summary());
    }

    [Fact]
    public async Task An_injected_skew_is_caught_and_the_feature_named()
    {
        // Two members the archive knows well (the fixture replays the earliest ratings of MovieLens).
        var services = fixture.Host.App.Services;
        var known = (await services.GetRequiredService<FactSnapshotStore>().LoadAsync(fixture.Trained.Snapshot, default))
            .Where(f => f.Kind == Serverless.Facts.FactKind.Rating).GroupBy(f => f.Member!).OrderByDescending(g => g.Count()).Take(2).Select(g => g.Key).ToArray();
        var served = await ServeAndLogAsync(known);
        var first = served.Where(r => r.Member == known[0]).ToList();
        var second = served.Where(r => r.Member == known[1]).ToList();
        var history = await services.GetRequiredService<ArchiveReader>().HistoryAsync(known[1], 500, second[0].Watermark);

        // Serving scales one feature (a units bug in the serving copy of the code).
        var scaled = FeatureNames.All.ToList().IndexOf(FeatureNames.TitleMeanRating);
        var bug = first.Select(r => r with { LogId = "scaled", Features = r.Features.Select((v, f) => f == scaled ? v * 1.1f : v).ToArray() }).ToList();
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new Serverless.Hosting.PlatformMetrics(meters.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        long counted = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter) && instrument.Name == "serverless.skew.mismatches")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == Serverless.Hosting.PlatformMetrics.Feature && Equals(tag.Value, FeatureNames.TitleMeanRating))
                {
                    Interlocked.Add(ref counted, value);
                }
            }
        });
        listener.Start();
        var report = await MeasureAloneAsync([bug], metrics);
        var skewed = Assert.Single(report.Skewed);
        // The mismatches are counted on the platform meter too, so they add up across instances.
        Assert.Equal(skewed.Mismatches, Interlocked.Read(ref counted));
        Assert.Equal(FeatureNames.TitleMeanRating, skewed.Feature);
        Assert.Equal(first.Count(r => r.Features[scaled] != 0), skewed.Mismatches);
        Assert.Contains(FeatureNames.TitleMeanRating, report.Summary(), StringComparison.Ordinal);

        // Serving read history the log says it did not have: the member's newest fact came after the logged watermark.
        Assert.NotEmpty(history);
        var newest = history.Max(h => h.Fact.IngestTime);
        var leaked = second.Select(r => r with { LogId = "leaked", Watermark = newest.AddTicks(-1), HistoryWatermark = newest.AddTicks(-1) }).ToList();
        report = await MeasureAloneAsync([leaked]);
        Assert.Contains(report.Skewed, f => f.Feature == FeatureNames.MemberRatingCount);
        Assert.DoesNotContain(report.Skewed, f => f.Feature.StartsWith("title_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_fact_in_flight_at_the_history_read_is_no_skew_with_the_history_watermark_and_a_real_skew_is_still_named()
    {
        var services = fixture.Host.App.Services;
        var reader = services.GetRequiredService<ArchiveReader>();
        var encoder = services.GetRequiredService<FeatureEncoder>();
        var known = (await services.GetRequiredService<FactSnapshotStore>().LoadAsync(fixture.Trained.Snapshot, default))
            .Where(f => f.Kind == Serverless.Facts.FactKind.Rating).GroupBy(f => f.Member!).ToList();
        // A light member no other test of this fixture serves (its count moves with one more rating).
        var member = known.Where(g => g.Count() < encoder.Config.HistoryLimit && g.Key is not ("1" or "7" or "15"))
            .OrderBy(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).First().Key;
        var unrated = known.SelectMany(g => g).Select(f => f.Title!).Distinct().Except(known.Single(g => g.Key == member).Select(f => f.Title!)).Order(StringComparer.Ordinal).First();

        // The race: a rating of the member is enqueued at t (its ingest time) but lands after serving
        // read the member's history as of t, so the read (as of t) does not hold it; the archive as of t does.
        var t = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var late = new Serverless.Facts.FactEnvelope { Id = $"rating:{member}:{unrated}:in-flight", Kind = "rating", Member = member, Title = unrated, Value = 5, EventTime = t.AddHours(-1) };
        await services.GetRequiredService<FactArchive>().IngestAsync([new IncomingEvent(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(late, Serverless.Facts.FactJson.Options), t, 1)]);
        var servedRead = new MemberHistoryRead(await reader.HistoryAsync(member, encoder.Config.HistoryLimit, t.AddTicks(-1)), t);
        Assert.DoesNotContain(servedRead.Facts, f => f.Fact.Id == late.Id);
        Assert.Contains(await reader.HistoryAsync(member, encoder.Config.HistoryLimit, t), f => f.Fact.Id == late.Id);

        // What serving scored from that read, with the live model's data (as RankService does).
        using var lease = services.GetRequiredService<LiveModel>().Acquire();
        var bundle = lease.Bundle!;
        var stats = (await services.GetRequiredService<Serverless.Precompute.TitleStatsVersions>().TimelineAsync([t])).At(t)?.Stats;
        var profile = RankService.ProfileOf(encoder, member, servedRead.Facts, t, bundle.Data, stats);
        var served = bundle.Data.Popular.Take(5).Select((title, position) =>
        {
            var vector = new float[encoder.Count];
            encoder.Encode(profile, title, vector);
            return new FeatureLogRecord("in-flight", t, member, title, position, bundle.Manifest.Version, encoder.ConfigHash, vector, 0.5f, servedRead.ReadAt, false, servedRead.FactsWatermark);
        }).ToList();
        Assert.True(servedRead.FactsWatermark < t);

        // Recomputed as of the logged history watermark: no skew.
        var report = await MeasureAloneAsync([served]);
        Assert.Equal(1, report.RequestsCompared);
        Assert.True(report.Mismatches == 0, report.Summary());

        // A log without the history watermark (older format) falls back to the read time: the race shows as skew in member features.
        var old = served.Select(r => r with { LogId = "in-flight-old", HistoryWatermark = null }).ToList();
        report = await MeasureAloneAsync([old]);
        Assert.Contains(report.Skewed, f => f.Feature == FeatureNames.MemberRatingCount);

        // A real skew is still named with the watermark logged: one feature scaled.
        var scaled = FeatureNames.All.ToList().IndexOf(FeatureNames.MemberMeanRating);
        var bug = served.Select(r => r with { LogId = "in-flight-scaled", Features = r.Features.Select((v, f) => f == scaled ? v * 1.1f : v).ToArray() }).ToList();
        report = await MeasureAloneAsync([bug]);
        Assert.Equal(FeatureNames.MemberMeanRating, Assert.Single(report.Skewed).Feature);
    }

    [Fact]
    public async Task The_offline_replay_answers_exactly_what_serving_answers_at_the_same_moment()
    {
        var services = fixture.Host.App.Services;
        var known = await services.GetRequiredService<FactSnapshotStore>().LoadAsync(fixture.Trained.Snapshot, default);
        var members = known.Where(f => f.Kind == Serverless.Facts.FactKind.Rating).GroupBy(f => f.Member!).OrderByDescending(g => g.Count()).Take(3).Select(g => g.Key).ToList();
        using var lease = services.GetRequiredService<LiveModel>().Acquire();
        var bundle = lease.Bundle!;
        Assert.Equal(fixture.Trained.Manifest.Version, bundle.Manifest.Version);
        var encoder = services.GetRequiredService<FeatureEncoder>();
        foreach (var member in members)
        {
            // Serving, as of the model's data watermark (the archive then held exactly the snapshot's facts).
            var served = await (await Http.PostAsJsonAsync("api/rank", new { member, count = 100, asOf = bundle.Data.Watermark })).Content.ReadFromJsonAsync<RankResponse>();
            Assert.False(served!.Fallback, served.FallbackReason);
            var offline = OfflineReplay.Answer(new ReplayRanker("live", bundle.Scorer), encoder, member, known, bundle.Data.Watermark, bundle.Data);
            Assert.Equal(served.Items.Select(i => i.Title), offline.Take(served.Items.Count));

            var popularity = OfflineReplay.Answer(new ReplayRanker("substitute", null), encoder, member, known, bundle.Data.Watermark, bundle.Data);
            Assert.NotEqual(offline, popularity);
        }
    }
}
