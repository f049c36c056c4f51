using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Serverless.Hosting;
using Serverless.Lumberjack;
using Serverless.Ranking;

namespace Serverless.Tests.Hosting;

/// <summary>Settings out of range refuse to start with the setting's name, rather than misbehaving later.</summary>
public sealed class SettingsValidationTests
{
    private static ServiceProvider Services(params (string Key, string Value)[] settings)
    {
        // BindConfiguration reads the IConfiguration registered in the container, as in the hosts.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))).Build();
        return new ServiceCollection().AddLogging().AddSingleton<IConfiguration>(configuration).AddServerlessPlatform(configuration).BuildServiceProvider();
    }

    [Fact]
    public void Defaults_are_valid()
    {
        using var services = Services();
        Assert.Equal(TimeSpan.FromMilliseconds(20), services.GetRequiredService<IOptions<LumberjackOptions>>().Value.PublishInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(250), services.GetRequiredService<IOptions<ServingOptions>>().Value.Deadline);
    }

    [Theory]
    [InlineData("Lumberjack:SampleRate", "1.5", "SampleRate")]
    [InlineData("Lumberjack:BufferCapacity", "0", "BufferCapacity")]
    [InlineData("Lumberjack:PublishInterval", "-00:00:01", "PublishInterval")]
    [InlineData("Lumberjack:PublishInterval", "00:01:00", "PublishInterval")]
    [InlineData("Lumberjack:LabelHorizon", "00:00:00", "LabelHorizon")]
    [InlineData("Lumberjack:LateWindow", "-1.00:00:00", "LateWindow")]
    [InlineData("Lumberjack:PublishAttempts", "0", "PublishAttempts")]
    [InlineData("Lumberjack:PublishRetryDelay", "00:00:00", "PublishRetryDelay")]
    [InlineData("Lumberjack:PublishRetryTimeout", "00:20:00", "PublishRetryTimeout")]
    public void Out_of_range_lumberjack_settings_are_refused_by_name(string key, string value, string name)
    {
        using var services = Services((key, value));
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<LumberjackOptions>>().Value);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Serving:Deadline", "00:00:00", "Deadline")]
    [InlineData("Serving:Deadline", "00:05:00", "Deadline")]
    [InlineData("Serving:HistoryCacheTtl", "-00:00:01", "HistoryCacheTtl")]
    [InlineData("Serving:HistoryCacheSize", "-1", "HistoryCacheSize")]
    [InlineData("Serving:HistoryRefreshAhead", "-00:00:01", "HistoryRefreshAhead")]
    [InlineData("Serving:HistoryRefreshAhead", "00:00:10", "HistoryRefreshAhead")]
    public void Out_of_range_serving_settings_are_refused_by_name(string key, string value, string name)
    {
        using var services = Services((key, value));
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<ServingOptions>>().Value);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Health:MaxSubstituteShare", "1.5", "MaxSubstituteShare")]
    [InlineData("Health:MaxFeatureLogLagEvents", "-1", "MaxFeatureLogLagEvents")]
    [InlineData("Health:MaxFeatureLogLagAge", "-00:00:01", "MaxFeatureLogLagAge")]
    [InlineData("Health:MaxDropsPerMinute", "-1", "MaxDropsPerMinute")]
    [InlineData("Health:MaxHistoryReadP99", "00:05:00", "MaxHistoryReadP99")]
    public void Out_of_range_health_settings_are_refused_by_name(string key, string value, string name)
    {
        using var services = Services((key, value));
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<HealthOptions>>().Value);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0 0 3 * * *")]
    [InlineData("0 */15 * * * *")]
    [InlineData("0 30 2 * * MON-FRI")]
    [InlineData("0 3 * * *")]   // five fields: the host reads them without seconds
    public void A_precompute_schedule_the_Functions_host_accepts_is_accepted(string schedule)
    {
        using var services = Services(("Precompute:Schedule", schedule));
        Assert.Equal(schedule, services.GetRequiredService<IOptions<Serverless.Precompute.PrecomputeOptions>>().Value.Schedule);
    }

    [Theory]
    [InlineData("0 0 25 * * *", "Hour")]            // six fields, but no hour 25: the old shape check let it through
    [InlineData("0 0 3 * * * *", "components")]     // seven fields
    [InlineData("every day at 3", "components")]
    [InlineData("0 0 3 * 13 *", "Month")]
    public void A_precompute_schedule_the_Functions_host_would_refuse_stops_the_start_with_NCrontab_s_reason(string schedule, string reason)
    {
        using var services = Services(("Precompute:Schedule", schedule));
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<Serverless.Precompute.PrecomputeOptions>>().Value);
        Assert.Contains("Precompute__Schedule must be an NCRONTAB schedule", error.Message, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }
}
