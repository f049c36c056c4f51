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
    private async Task<SkewReport> MeasureAloneAsync(IEnumerable<IReadOnlyList<FeatureLogRecord>> requests)
    {
        var services = fixture.Host.App.Services;
        var store = new FeatureLogStore(services.GetRequiredService<Azure.Data.Tables.TableServiceClient>(), services.GetRequiredService<Azure.Storage.Blobs.BlobServiceClient>(),
            Options.Create(new ArchiveOptions { TablePrefix = fixture.Azurite.NewPrefix() }), services.GetRequiredService<ArchiveTables>(), TimeProvider.System);
        await store.EnsureCreatedAsync();
        var seq = 0;
        await store.IngestAsync(requests.Select(r => new IncomingEvent(FeatureLogEvent.From(r).ToJson(), DateTimeOffset.UtcNow, seq++)).ToList());
        var meter = new SkewMeter(store, services.GetRequiredService<ArchiveReader>(), services.GetRequiredService<ModelStore>(), services.GetRequiredService<FactSnapshotStore>(),
            services.GetRequiredService<Serverless.Precompute.TitleStatsVersions>(), services.GetRequiredService<FeatureEncoder>(), TimeProvider.System, NullLogger<SkewMeter>.Instance);
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
        var report = await MeasureAloneAsync([bug]);
        var skewed = Assert.Single(report.Skewed);
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
