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

    /// <summary>
    /// Every SentinelOptions property (found by reflection, so a new option cannot be forgotten) is a
    /// setting: in the catalog, the local template (with the code's default), the Bicep app settings
    /// and the deployment guide's table.
    /// </summary>
    [Fact]
    public void Every_SentinelOptions_property_is_a_setting_in_the_catalog_template_bicep_and_docs_with_its_default()
    {
        var values = JsonNode.Parse(File.ReadAllText(Repo.Path("functions", "local.settings.template.json")))!["Values"]!;
        var bicep = File.ReadAllText(Repo.Path("infra-bicep", "main.bicep"));
        var deploy = File.ReadAllText(Repo.Path("docs", "deploy.md"));
        var catalog = Serverless.Hosting.AppSettings.All.Select(a => a.Name).ToHashSet(StringComparer.Ordinal);
        var defaults = new Serverless.Models.SentinelOptions();
        var properties = typeof(Serverless.Models.SentinelOptions).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Where(p => p.CanWrite).ToList();
        Assert.Contains(properties, p => p.Name == nameof(Serverless.Models.SentinelOptions.MinProbeRows));

        var problems = new List<string>();
        foreach (var property in properties)
        {
            var key = $"{Serverless.Hosting.PlatformServices.SentinelSection}__{property.Name}";
            if (!catalog.Contains(key)) { problems.Add($"{key}: not in AppSettings.All"); }
            if (!bicep.Contains($"  {key}: ", StringComparison.Ordinal)) { problems.Add($"{key}: not in the Bicep app settings"); }
            if (!deploy.Contains($"| `{key}` |", StringComparison.Ordinal)) { problems.Add($"{key}: not in docs/deploy.md"); }
            if (values[key]?.GetValue<string>() is not { } text)
            {
                problems.Add($"{key}: not in the local settings template");
                continue;
            }

            object parsed = property.PropertyType switch
            {
                var t when t == typeof(int) => int.Parse(text, CultureInfo.InvariantCulture),
                var t when t == typeof(double) => double.Parse(text, CultureInfo.InvariantCulture),
                var t when t == typeof(bool) => bool.Parse(text),
                var t when t == typeof(TimeSpan) => TimeSpan.Parse(text, CultureInfo.InvariantCulture),
                var t when t == typeof(string) => text,
                var t => throw new InvalidOperationException($"{key}: add a parser for {t.Name}"),
            };
            if (!Equals(parsed, property.GetValue(defaults)))
            {
                problems.Add($"{key}: template '{text}', the code's default {property.GetValue(defaults)}");
            }
        }

        Assert.Empty(problems);
        Assert.True(defaults.RepublishOnRefusal);
        defaults.Validate();
    }
}
