using System.Globalization;
using System.Text.Json.Nodes;
using Serverless.Archive;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Contracts;

/// <summary>The local settings template (which Bicep's defaults equal, see Infrastructure) carries the code's option defaults.</summary>
public sealed class SettingsDefaultsTests
{
    [Fact]
    public void Template_archive_values_equal_the_ArchiveOptions_defaults()
    {
        var values = JsonNode.Parse(File.ReadAllText(Repo.Path("functions", "local.settings.template.json")))!["Values"]!;
        var defaults = new ArchiveOptions();
        string Get(string key) => values[key]!.GetValue<string>();

        Assert.Equal(defaults.LiveMaxLimit, int.Parse(Get("Archive__LiveMaxLimit"), CultureInfo.InvariantCulture));
        Assert.Equal(defaults.BatchPagesPerSecond, double.Parse(Get("Archive__BatchPagesPerSecond"), CultureInfo.InvariantCulture));
        Assert.Equal(defaults.BatchMaxConcurrency, int.Parse(Get("Archive__BatchMaxConcurrency"), CultureInfo.InvariantCulture));
        Assert.Equal(defaults.BatchQueueLimit, int.Parse(Get("Archive__BatchQueueLimit"), CultureInfo.InvariantCulture));
        Assert.Equal(defaults.BatchMaxPageSize, int.Parse(Get("Archive__BatchMaxPageSize"), CultureInfo.InvariantCulture));
        Assert.Equal(defaults.MaxFutureSkew, TimeSpan.Parse(Get("Archive__MaxFutureSkew"), CultureInfo.InvariantCulture));
        Assert.Equal(defaults.RecentHistoryCap, int.Parse(Get("Archive__RecentHistoryCap"), CultureInfo.InvariantCulture));
        Assert.Equal(ArchiveOptions.DevelopmentContinuationKey, defaults.ContinuationKey);
        Assert.Equal(defaults.ContinuationKey, Get("Archive__ContinuationKey"));

        var lumberjack = new Serverless.Lumberjack.LumberjackOptions();
        Assert.Equal(lumberjack.SampleRate, double.Parse(Get("Lumberjack__SampleRate"), CultureInfo.InvariantCulture));
        Assert.Equal(lumberjack.BufferCapacity, int.Parse(Get("Lumberjack__BufferCapacity"), CultureInfo.InvariantCulture));
        Assert.Equal(lumberjack.LabelHorizon, TimeSpan.Parse(Get("Lumberjack__LabelHorizon"), CultureInfo.InvariantCulture));
        Assert.Equal(lumberjack.LateWindow, TimeSpan.Parse(Get("Lumberjack__LateWindow"), CultureInfo.InvariantCulture));
        Assert.Equal(lumberjack.PublishInterval, TimeSpan.Parse(Get("Lumberjack__PublishInterval"), CultureInfo.InvariantCulture));
        Assert.Equal(lumberjack.PublishAttempts, int.Parse(Get("Lumberjack__PublishAttempts"), CultureInfo.InvariantCulture));
        Assert.Equal(lumberjack.PublishRetryDelay, TimeSpan.Parse(Get("Lumberjack__PublishRetryDelay"), CultureInfo.InvariantCulture));
        Assert.Equal(lumberjack.PublishRetryTimeout, TimeSpan.Parse(Get("Lumberjack__PublishRetryTimeout"), CultureInfo.InvariantCulture));

        var timeMachine = new Serverless.TimeMachine.TimeMachineOptions();
        Assert.Equal(timeMachine.SampleRate, double.Parse(Get("TimeMachine__SampleRate"), CultureInfo.InvariantCulture));
        Assert.Equal(timeMachine.SampleSeed, int.Parse(Get("TimeMachine__SampleSeed"), CultureInfo.InvariantCulture));
        Assert.Equal(timeMachine.Strata, int.Parse(Get("TimeMachine__Strata"), CultureInfo.InvariantCulture));

        var serving = new Serverless.Ranking.ServingOptions();
        Assert.Equal(serving.HistoryCacheTtl, TimeSpan.Parse(Get("Serving__HistoryCacheTtl"), CultureInfo.InvariantCulture));
        Assert.Equal(serving.HistoryCacheSize, int.Parse(Get("Serving__HistoryCacheSize"), CultureInfo.InvariantCulture));
        Assert.Equal(serving.HistoryRefreshAhead, TimeSpan.Parse(Get("Serving__HistoryRefreshAhead"), CultureInfo.InvariantCulture));
        Assert.Equal(serving.Deadline, TimeSpan.Parse(Get("Serving__Deadline"), CultureInfo.InvariantCulture));

        var health = new Serverless.Ranking.HealthOptions();
        Assert.Equal(health.MaxSubstituteShare, double.Parse(Get("Health__MaxSubstituteShare"), CultureInfo.InvariantCulture));
        Assert.Equal(health.MaxFeatureLogLagEvents, int.Parse(Get("Health__MaxFeatureLogLagEvents"), CultureInfo.InvariantCulture));
        Assert.Equal(health.MaxFeatureLogLagAge, TimeSpan.Parse(Get("Health__MaxFeatureLogLagAge"), CultureInfo.InvariantCulture));
        Assert.Equal(health.MaxDropsPerMinute, int.Parse(Get("Health__MaxDropsPerMinute"), CultureInfo.InvariantCulture));
        Assert.Equal(health.MaxHistoryReadP99, TimeSpan.Parse(Get("Health__MaxHistoryReadP99"), CultureInfo.InvariantCulture));

        var precompute = new Serverless.Precompute.PrecomputeOptions();
        Assert.Equal(precompute.Partitions, int.Parse(Get("Precompute__Partitions"), CultureInfo.InvariantCulture));
        Assert.Equal(precompute.MaxParallel, int.Parse(Get("Precompute__MaxParallel"), CultureInfo.InvariantCulture));
        Assert.Equal(precompute.RefreshInterval, TimeSpan.Parse(Get("Precompute__RefreshInterval"), CultureInfo.InvariantCulture));
        Assert.Equal(precompute.MaxVersionAge, TimeSpan.Parse(Get("Precompute__MaxVersionAge"), CultureInfo.InvariantCulture));
        Assert.Equal(precompute.CleanupGrace, TimeSpan.Parse(Get("Precompute__CleanupGrace"), CultureInfo.InvariantCulture));
        Assert.Equal(precompute.Schedule, Get("Precompute__Schedule"));
        Assert.Equal(precompute.ScheduledDatasets, Get("Precompute__ScheduledDatasets"));
    }

    [Fact]
    public void Template_sentinel_values_equal_the_SentinelOptions_defaults()
    {
        var values = JsonNode.Parse(File.ReadAllText(Repo.Path("functions", "local.settings.template.json")))!["Values"]!;
        var sentinel = new Serverless.Models.SentinelOptions();
        string Get(string key) => values[key]!.GetValue<string>();

        Assert.Equal(sentinel.MinShadowRows, int.Parse(Get("Sentinel__MinShadowRows"), CultureInfo.InvariantCulture));
        Assert.Equal(sentinel.MinShadowRequests, int.Parse(Get("Sentinel__MinShadowRequests"), CultureInfo.InvariantCulture));
        Assert.Equal(sentinel.MaxShadowRows, int.Parse(Get("Sentinel__MaxShadowRows"), CultureInfo.InvariantCulture));
        Assert.Equal(sentinel.BootstrapResamples, int.Parse(Get("Sentinel__BootstrapResamples"), CultureInfo.InvariantCulture));
        Assert.Equal(sentinel.AucTolerance, double.Parse(Get("Sentinel__AucTolerance"), CultureInfo.InvariantCulture));
        Assert.Equal(sentinel.LogLossTolerance, double.Parse(Get("Sentinel__LogLossTolerance"), CultureInfo.InvariantCulture));
        Assert.Equal(sentinel.NdcgTolerance, double.Parse(Get("Sentinel__NdcgTolerance"), CultureInfo.InvariantCulture));
        Assert.Equal(sentinel.MaxPsi, double.Parse(Get("Sentinel__MaxPsi"), CultureInfo.InvariantCulture));
        Assert.Equal(sentinel.MaxCalibrationError, double.Parse(Get("Sentinel__MaxCalibrationError"), CultureInfo.InvariantCulture));
        Assert.Equal(sentinel.MaxSumRatioDeviation, double.Parse(Get("Sentinel__MaxSumRatioDeviation"), CultureInfo.InvariantCulture));
        Assert.Equal(sentinel.ServingBudget, TimeSpan.Parse(Get("Sentinel__ServingBudget"), CultureInfo.InvariantCulture));
        Assert.Equal(sentinel.RepublishOnRefusal, bool.Parse(Get("Sentinel__RepublishOnRefusal")));
        Assert.True(sentinel.RepublishOnRefusal);
        sentinel.Validate();
    }
}
