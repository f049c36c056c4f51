using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OpenTelemetry.Metrics;
using Serverless.Functions.Telemetry;
using Serverless.Hosting;
using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.Ranking;
using Serverless.Sentinel;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Telemetry;

/// <summary>
/// What the operators' counters record on the platform meter, heard by a MeterListener as an exporter
/// hears them, and the worker's telemetry composition (exported only when a connection string is set).
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class PlatformMetricsTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Rank_answers_are_counted_by_who_answered_and_why_and_the_health_window_still_counts_them()
    {
        using var recorded = new Recorded(out var metrics);
        var monitor = new ServingMonitor(new FakeTimeProvider(T0), metrics);

        monitor.RecordModelAnswer();
        monitor.RecordModelAnswer();
        monitor.RecordSubstitute("no-model");
        monitor.RecordSubstitute("deadline");
        monitor.RecordSubstitute("deadline");

        Assert.Equal(2, recorded.Sum("serverless.rank.answers", (PlatformMetrics.AnsweredBy, "model")));
        Assert.Equal(3, recorded.Sum("serverless.rank.answers", (PlatformMetrics.AnsweredBy, "substitute")));
        Assert.Equal(2, recorded.Sum("serverless.rank.answers", (PlatformMetrics.Reason, "deadline")));
        Assert.Equal(1, recorded.Sum("serverless.rank.answers", (PlatformMetrics.Reason, "no-model")));
        var window = monitor.Window();
        Assert.Equal(5, window.Requests);
        Assert.Equal(3, window.Substitute);
    }

    [Fact]
    public void Feature_log_requests_and_vectors_queued_and_requests_dropped_are_counted()
    {
        using var recorded = new Recorded(out var metrics);
        var monitor = new ServingMonitor(new FakeTimeProvider(T0), TestMetrics.Unheard());
        using var buffer = new FeatureLogBuffer(Options.Create(new LumberjackOptions { BufferCapacity = 3 }), new ServiceCollection().BuildServiceProvider(),
            NullLogger<FeatureLogBuffer>.Instance, monitor, metrics);
        var requests = Enumerable.Range(0, 10)
            .Select(i => LoggedRequest.Capture("log" + i, T0, "1", "v1", "hash1", T0, false, ["a", "b"], [[1f], [2f]], [0.5f, 0.4f], [0, 1])).ToList();

        var accepted = requests.Count(buffer.TryLog);

        Assert.Equal(3, accepted);
        Assert.Equal(3, recorded.Sum("serverless.lumberjack.logged"));
        Assert.Equal(6, recorded.Sum("serverless.lumberjack.logged_vectors"));
        Assert.Equal(7, recorded.Sum("serverless.lumberjack.dropped"));
        Assert.Equal(buffer.Dropped, recorded.Sum("serverless.lumberjack.dropped"));
        Assert.Equal(7, monitor.Window().FeatureLogDrops);
    }

    [Fact]
    public async Task Every_sentinel_alert_is_counted_by_kind_and_check()
    {
        using var recorded = new Recorded(out var metrics);
        var alerts = new SentinelAlerts(azurite.Tables(), azurite.NewPrefix(), TimeProvider.System, NullLogger<SentinelAlerts>.Instance, metrics);
        await alerts.EnsureCreatedAsync();
        var report = new SentinelReport("cand-1", [new SentinelCheck("calibration", "0.3", "<= 0.1", false), new SentinelCheck("feature-drift", "0.5", "<= 0.2", false), new SentinelCheck("artifact-loads", "yes", "yes", true)]);

        await alerts.RaiseRejectedAsync(report, "test");
        await alerts.RaiseAsync(AlertKinds.LoaderRefused, "cand-2", null, "hash differs", "loader");

        Assert.Equal(2, recorded.Sum("serverless.sentinel.alerts", (PlatformMetrics.AlertKind, AlertKinds.CheckFailed)));
        Assert.Equal(1, recorded.Sum("serverless.sentinel.alerts", (PlatformMetrics.Check, "calibration")));
        Assert.Equal(1, recorded.Sum("serverless.sentinel.alerts", (PlatformMetrics.AlertKind, AlertKinds.CandidateRejected)));
        Assert.Equal(1, recorded.Sum("serverless.sentinel.alerts", (PlatformMetrics.AlertKind, AlertKinds.LoaderRefused)));
        Assert.Equal(4, (await alerts.ListAsync()).Count);
    }

    [Fact]
    public void Skew_runs_add_requests_values_and_each_features_mismatches()
    {
        using var recorded = new Recorded(out var metrics);
        metrics.SkewMeasured(3, 60, [("title_mean_rating", 4), ("member_rating_count", 0)]);
        metrics.SkewMeasured(2, 40, [("title_mean_rating", 1)]);

        Assert.Equal(5, recorded.Sum("serverless.skew.requests"));
        Assert.Equal(100, recorded.Sum("serverless.skew.values"));
        Assert.Equal(5, recorded.Sum("serverless.skew.mismatches", (PlatformMetrics.Feature, "title_mean_rating")));
        Assert.Equal(0, recorded.Sum("serverless.skew.mismatches", (PlatformMetrics.Feature, "member_rating_count")));
    }

    [Fact]
    public void The_platform_registers_one_metrics_instance_on_the_meter_name_operators_query()
    {
        var services = new ServiceCollection();
        services.AddServerlessPlatform(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [AppSettings.Storage] = "UseDevelopmentStorage=true" }).Build());
        using var provider = services.BuildServiceProvider();
        var metrics = provider.GetRequiredService<PlatformMetrics>();
        Assert.Same(metrics, provider.GetRequiredService<PlatformMetrics>());
        Assert.Equal(PlatformMetrics.MeterName, metrics.Meter.Name);
    }

    [Fact]
    public void Without_a_connection_string_nothing_is_exported_as_on_the_local_host()
    {
        var services = new ServiceCollection();
        services.AddPlatformTelemetry(Settings());
        Assert.DoesNotContain(services, d => d.ServiceType == typeof(MeterProvider));
        Assert.Null(TelemetryServices.Export(Settings()));
    }

    [Fact]
    public void With_the_settings_the_bicep_writes_metrics_go_to_azure_monitor_signed_in_with_the_managed_identity()
    {
        var settings = Settings(
            (TelemetryServices.ConnectionStringSetting, "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.invalid/"),
            (TelemetryServices.AuthenticationStringSetting, "ClientId=11111111-1111-1111-1111-111111111111;Authorization=AAD"));
        var services = new ServiceCollection();
        services.AddPlatformTelemetry(settings);
        Assert.Contains(services, d => d.ServiceType == typeof(MeterProvider));
        var export = TelemetryServices.Export(settings)!;
        Assert.IsType<Azure.Identity.ManagedIdentityCredential>(export.Credential);
        Assert.StartsWith("InstrumentationKey=", export.ConnectionString, StringComparison.Ordinal);
    }

    [Fact]
    public void An_authentication_string_that_is_not_entra_is_refused_rather_than_sent_without_a_token()
    {
        var settings = Settings((TelemetryServices.ConnectionStringSetting, "InstrumentationKey=00000000-0000-0000-0000-000000000000"),
            (TelemetryServices.AuthenticationStringSetting, "Authorization=Key"));
        Assert.Contains("Authorization=AAD", Assert.Throws<InvalidOperationException>(() => TelemetryServices.Export(settings)).Message, StringComparison.Ordinal);
    }

    private static IConfiguration Settings(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    /// <summary>A fresh platform meter and a listener on that meter alone (other tests' instruments are not heard).</summary>
    private sealed class Recorded : IDisposable
    {
        private readonly ServiceProvider provider;
        private readonly MeterRecording recording;

        public Recorded(out PlatformMetrics metrics)
        {
            provider = new ServiceCollection().AddMetrics().BuildServiceProvider();
            metrics = new PlatformMetrics(provider.GetRequiredService<IMeterFactory>());
            recording = new MeterRecording(metrics.Meter);
        }

        public long Sum(string instrument, params (string Key, string Value)[] tags) => recording.Sum(instrument, tags);

        public void Dispose()
        {
            recording.Dispose();
            provider.Dispose();
        }
    }
}
