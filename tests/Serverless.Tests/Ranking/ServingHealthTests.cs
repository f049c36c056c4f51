using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Serverless.Hosting;
using Serverless.Lumberjack;
using Serverless.Ranking;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Ranking;

public sealed class ServingHealthTests
{
    private const string Deadline = "deadline exceeded reading the member's history";
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    private static readonly ServedModel Model = new("v1", "hash1", T0.AddDays(-1), "snapshots/facts-1.jsonl.gz");

    /// <summary>Limits as the app binds them: defaults, overridden by configuration (section "Health").</summary>
    private static HealthOptions Limits(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create($"Health:{s.Key}", (string?)s.Value))).Build();
        using var services = new ServiceCollection().AddLogging().AddSingleton<IConfiguration>(configuration).AddServerlessPlatform(configuration).BuildServiceProvider();
        return services.GetRequiredService<IOptions<HealthOptions>>().Value;
    }

    private static HealthInputs Inputs(ServingWindow window, ServedModel? model = null, FeatureLogLag? lag = null, double? historyP99 = null, string? lagSource = "local hub") =>
        new(model ?? Model, [], window, new HistoryCacheStats(10, 2, 2, 0, 0, 0, historyP99), new FeatureLogCounters(100, 0, 3, 0), lagSource, lag);

    /// <summary>A monitor on a fake clock that has seen <paramref name="model"/> model answers and <paramref name="substitute"/> Substitute answers.</summary>
    private static (ServingMonitor Monitor, FakeTimeProvider Clock) Monitor(int model, int substitute, string reason = Deadline)
    {
        var clock = new FakeTimeProvider(T0);
        var monitor = new ServingMonitor(clock, TestMetrics.Unheard());
        for (var i = 0; i < model; i++) { monitor.RecordModelAnswer(); }
        for (var i = 0; i < substitute; i++) { monitor.RecordSubstitute(reason); }
        return (monitor, clock);
    }

    [Fact]
    public void The_monitor_counts_answers_and_Substitute_reasons_and_forgets_them_after_a_minute()
    {
        var (monitor, clock) = Monitor(model: 65, substitute: 30);
        monitor.RecordSubstitute("no valid model is live");
        monitor.RecordFeatureLogDrops(4);
        clock.Advance(TimeSpan.FromSeconds(30));
        monitor.RecordSubstitute(Deadline);
        monitor.RecordModelAnswer();
        monitor.RecordFeatureLogDrops(1);

        var window = monitor.Window();
        Assert.Equal((60, 98L, 32L, 5L), (window.WindowSeconds, window.Requests, window.Substitute, window.FeatureLogDrops));
        Assert.Equal(32.0 / 98, window.SubstituteShare, 6);
        Assert.Equal(31, window.SubstituteReasons[Deadline]);
        Assert.Equal(1, window.SubstituteReasons["no valid model is live"]);

        // 60 s after the first second, the first second has left the window; the later one has not.
        clock.Advance(TimeSpan.FromSeconds(30));
        window = monitor.Window();
        Assert.Equal((2L, 1L, 1L), (window.Requests, window.Substitute, window.FeatureLogDrops));
        Assert.Equal(Deadline, Assert.Single(window.SubstituteReasons).Key);

        clock.Advance(TimeSpan.FromSeconds(30));
        window = monitor.Window();
        Assert.Equal((0L, 0L, 0L, 0.0), (window.Requests, window.Substitute, window.FeatureLogDrops, window.SubstituteShare));
        Assert.Empty(window.SubstituteReasons);

        // A bucket reused a minute later starts from zero.
        monitor.RecordModelAnswer();
        Assert.Equal((1L, 0L), (monitor.Window().Requests, monitor.Window().Substitute));
    }

    [Fact]
    public void Within_every_limit_the_instance_is_serving()
    {
        var (monitor, _) = Monitor(model: 1000, substitute: 5);
        var report = ServingHealth.Evaluate(Inputs(monitor.Window(), lag: new FeatureLogLag(120, TimeSpan.FromSeconds(2)), historyP99: 40), Limits());

        Assert.True(report.Healthy);
        Assert.Equal("serving", report.Status);
        Assert.Empty(report.Problems);
        Assert.Equal(("v1", "hash1"), (report.Model, report.ConfigHash));
        Assert.Equal((1005L, 5L), (report.Serving.Requests, report.Serving.Substitute));
        Assert.Equal((120L, 2.0, "local hub"), (report.FeatureLog.LagEvents, report.FeatureLog.LagAgeSeconds, report.FeatureLog.LagMeasured));
        Assert.Equal(0.01, report.Thresholds.MaxSubstituteShare);
    }

    [Theory]
    [InlineData("substitute", "substitute share 0.35 over the last minute exceeds 0.01")]
    [InlineData("no-model", "no valid model is loaded")]
    [InlineData("drops", "3 feature-log requests dropped over the last minute exceeds 0")]
    [InlineData("lag-events", "feature-log consumer lag of 185000 events exceeds 50000")]
    [InlineData("lag-age", "oldest unacknowledged feature-log event is 412.5 s old, over 30 s")]
    [InlineData("history-p99", "history read p99 153.2 ms over the last minute exceeds 100 ms")]
    public void Each_limit_exceeded_makes_the_instance_unhealthy_and_says_why(string limit, string problem)
    {
        var (monitor, _) = limit == "substitute" ? Monitor(model: 65, substitute: 35) : Monitor(model: 100, substitute: 0);
        if (limit == "drops")
        {
            monitor.RecordFeatureLogDrops(3);
        }

        var inputs = Inputs(monitor.Window(),
            lag: limit switch
            {
                "lag-events" => new FeatureLogLag(185_000, TimeSpan.FromSeconds(1)),
                "lag-age" => new FeatureLogLag(10, TimeSpan.FromSeconds(412.5)),
                _ => new FeatureLogLag(0, null),
            },
            historyP99: limit == "history-p99" ? 153.2 : 12) with { Model = limit == "no-model" ? null : Model };

        var report = ServingHealth.Evaluate(inputs, Limits());

        Assert.False(report.Healthy);
        Assert.StartsWith(problem, Assert.Single(report.Problems), StringComparison.Ordinal);
        Assert.Equal("degraded: " + report.Problems[0], report.Status);
    }

    [Fact]
    public void Limits_come_from_configuration()
    {
        var (monitor, _) = Monitor(model: 65, substitute: 35);
        monitor.RecordFeatureLogDrops(3);
        var inputs = Inputs(monitor.Window(), lag: new FeatureLogLag(185_000, TimeSpan.FromMinutes(5)), historyP99: 153.2);

        var strict = ServingHealth.Evaluate(inputs, Limits());
        Assert.Equal(5, strict.Problems.Count);
        Assert.Equal(string.Join("; ", strict.Problems), strict.Status["degraded: ".Length..]);

        var lenient = ServingHealth.Evaluate(inputs, Limits(
            ("MaxSubstituteShare", "0.5"), ("MaxDropsPerMinute", "10"), ("MaxFeatureLogLagEvents", "200000"),
            ("MaxFeatureLogLagAge", "00:10:00"), ("MaxHistoryReadP99", "00:00:00.2")));
        Assert.True(lenient.Healthy);
        Assert.Equal((0.5, 10, 200_000), (lenient.Thresholds.MaxSubstituteShare, lenient.Thresholds.MaxDropsPerMinute, lenient.Thresholds.MaxFeatureLogLagEvents));
    }

    [Fact]
    public void Unmeasured_figures_are_not_failures_and_say_they_are_not_measured()
    {
        var (monitor, _) = Monitor(model: 100, substitute: 0);
        var report = ServingHealth.Evaluate(Inputs(monitor.Window(), lag: null, historyP99: null, lagSource: null), Limits());

        Assert.True(report.Healthy);
        Assert.Null(report.FeatureLog.LagEvents);
        Assert.Null(report.FeatureLog.LagAgeSeconds);
        Assert.Null(report.Serving.HistoryReadP99Ms);
        Assert.Equal(ServingHealth.NotMeasured, report.FeatureLog.LagMeasured);
    }

    [Fact]
    public void No_requests_in_the_last_minute_is_no_Substitute_share()
    {
        var (monitor, clock) = Monitor(model: 0, substitute: 10);
        Assert.False(ServingHealth.Evaluate(Inputs(monitor.Window()), Limits()).Healthy);
        clock.Advance(TimeSpan.FromMinutes(1));
        var report = ServingHealth.Evaluate(Inputs(monitor.Window()), Limits());
        Assert.True(report.Healthy);
        Assert.Equal(0, report.Serving.Requests);
    }

    [Fact]
    public void A_derived_version_older_than_the_max_version_age_is_flagged_as_a_warning_and_a_recent_one_is_not()
    {
        var (monitor, _) = Monitor(model: 100, substitute: 0);
        var maxHours = new Serverless.Precompute.PrecomputeOptions().MaxVersionAge.TotalHours;
        var inputs = Inputs(monitor.Window()) with
        {
            Derived =
            [
                new DerivedDataAge("title-stats", "20261120000000-aaaa", T0.AddDays(-6), 144, maxHours),
                new DerivedDataAge("similar-titles", "20261126000000-bbbb", T0.AddHours(-12), 12, maxHours),
            ],
        };

        var report = ServingHealth.Evaluate(inputs, Limits());

        Assert.True(report.Healthy); // still serving: a stale version is a warning, not a 503
        var warning = Assert.Single(report.Warnings);
        Assert.Contains("title-stats version 20261120000000-aaaa", warning, StringComparison.Ordinal);
        Assert.Contains("Precompute__MaxVersionAge", warning, StringComparison.Ordinal);
        Assert.Equal([true, false], report.DerivedData.Select(d => d.Stale));
        Assert.Empty(ServingHealth.Evaluate(Inputs(monitor.Window()), Limits()).Warnings);
    }
}
