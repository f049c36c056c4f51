using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Serverless.Events;
using Serverless.Features;
using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.Sentinel;
using Serverless.Tests.Fixtures;
using Serverless.Tests.Models;
using Serverless.Training;

namespace Serverless.Tests.Sentinel;

/// <summary>
/// A candidate trained on logged features is shadow-scored only on impressions it never trained on:
/// the training set's split falls between request times, and the Sentinel's shadow data starts there.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class HeldOutSplitTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset T0 = ArchiveHarness.Start.AddDays(-100);

    [Fact]
    public async Task No_log_id_used_for_training_is_among_the_shadow_rows()
    {
        using var h = new ArchiveHarness(azurite);
        var store = new FeatureLogStore(azurite.Tables(), azurite.Blobs(), Options.Create(h.Options), h.Tables, h.Clock);
        await store.EnsureCreatedAsync();

        // 25 requests of 4 candidates: ten a minute apart, then twelve logged in the same instant (a
        // burst), then three more. A quarter held out by row count would split at row 75: inside the
        // burst and inside request 18, so rows logged at one time, and one request, were on both sides.
        var times = Enumerable.Range(0, 25).Select(r => r < 10 ? T0.AddMinutes(r) : r < 22 ? T0.AddMinutes(20) : T0.AddMinutes(30 + r)).ToList();
        var events = Enumerable.Range(0, 25).Select(r => new IncomingEvent(FeatureLogEvent.From(Enumerable.Range(0, 4).Select(p =>
            new FeatureLogRecord($"req-{r}", times[r], $"{r}", $"{p}", p, "v1", "hash1", [(r * 4) + p, r, p], 0.5f, times[r].AddMinutes(-1), false)).ToArray()).ToJson(), T0, r)).ToList();
        await store.IngestAsync(events);
        var labelled = await new LabelJoiner(store, h.Reader, Options.Create(new LumberjackOptions()), h.Clock).RunAsync();
        Assert.Equal(100, labelled.Labelled);

        var logged = await store.LabelledAsync("hash1", default);
        var set = TrainingSetBuilder.FromLogs(logged, "hash1", featureCount: 3, validationShare: 0.25);
        var manifest = SharedModels.Get(TrainerKind.LogisticRegression).Manifest with
        {
            Version = "logged-1", FeatureConfigHash = "hash1", FeatureNames = ["row", "request", "position"], HeldOutFrom = set.HeldOutFrom,
        };
        var validator = new CandidateValidator(new ModelStore(azurite.Blobs(), "m" + h.Options.TablePrefix), new ModelRegistry(azurite.Tables(), h.Options.TablePrefix),
            new DependencyResolvers([]), store, new FeatureEncoder(FeatureConfig.Default), Options.Create(new SentinelOptions()), NullLogger<CandidateValidator>.Instance);
        var shadow = await validator.ShadowAsync(manifest, default);

        // Feature 0 is the row's number, feature 1 its request.
        static string LogId(float[] features) => $"req-{(int)features[1]}";
        var trained = set.Train.Select(e => LogId(e.Features)).ToHashSet();
        var shadowed = shadow.Features.Select(LogId).ToHashSet();
        Assert.NotEmpty(shadowed);
        Assert.Empty(trained.Intersect(shadowed));
        Assert.Equal(set.Validation.Select(e => (int)e.Features[0]).Order(), shadow.Features.Select(f => (int)f[0]).Order());

        // The split moved to the burst's end: every request, and every instant, on one side.
        Assert.Equal(T0.AddMinutes(52), set.HeldOutFrom);
        Assert.Equal(88, set.Train.Count);
        Assert.All(set.Train, e => Assert.True(times[(int)e.Features[1]] < set.HeldOutFrom));
    }
}
