using System.Globalization;
using Microsoft.Extensions.Options;
using Serverless.Lumberjack;

namespace Serverless.Ranking;

/// <summary>The model an instance serves, as health reports it.</summary>
public sealed record ServedModel(string Version, string ConfigHash, DateTimeOffset DataWatermark, string Snapshot);

/// <summary>The feature-log buffer's counters since the instance started.</summary>
public sealed record FeatureLogCounters(long Published, long Dropped, long Pending, long PublishRetries);

/// <summary>Everything a health verdict is made from, gathered at one moment.</summary>
/// <param name="LagSource">Where the feature-log lag is measured (null: not in this runtime).</param>
/// <param name="Lag">The lag, when measured.</param>
public sealed record HealthInputs(
    ServedModel? Model,
    IReadOnlyList<ModelAlert> Alerts,
    ServingWindow Window,
    HistoryCacheStats History,
    FeatureLogCounters FeatureLog,
    string? LagSource,
    FeatureLogLag? Lag)
{
    /// <summary>The derived-data versions this instance serves, with their age (none: nothing to flag).</summary>
    public IReadOnlyList<DerivedDataAge> Derived { get; init; } = [];
}

/// <summary>
/// A derived-data version an instance serves (the Hulk's title statistics, similar titles, top-N):
/// its as-of time T, how old T is now, and the age <c>Precompute__MaxVersionAge</c> allows.
/// </summary>
public sealed record DerivedDataAge(string Dataset, string Version, DateTimeOffset AsOf, double AgeHours, double MaxAgeHours)
{
    public bool Stale => AgeHours > MaxAgeHours;
}

/// <summary>Serving over the last minute.</summary>
public sealed record ServingFigures(
    int WindowSeconds,
    long Requests,
    long Substitute,
    double SubstituteShare,
    IReadOnlyDictionary<string, long> SubstituteReasons,
    long HistoryReads,
    double? HistoryReadP99Ms,
    long HistoryCacheHits,
    long HistoryCacheMisses);

/// <summary>The Lumberjack's side: the buffer's counters, drops over the last minute, and the consumer's lag where measured.</summary>
public sealed record FeatureLogFigures(
    long Published,
    long Dropped,
    long DroppedLastMinute,
    long Pending,
    long PublishRetries,
    long? LagEvents,
    double? LagAgeSeconds,
    string LagMeasured);

/// <summary>
/// GET /api/health: <see cref="Healthy"/> is false when any <see cref="HealthOptions"/> limit is
/// exceeded or no valid model is loaded, and <see cref="Problems"/> says which, in words.
/// </summary>
public sealed record ServingHealthReport(
    string Status,
    bool Healthy,
    IReadOnlyList<string> Problems,
    string? Model,
    string? ConfigHash,
    DateTimeOffset? DataWatermark,
    string? Snapshot,
    IReadOnlyList<ModelAlert> Alerts,
    ServingFigures Serving,
    FeatureLogFigures FeatureLog,
    HealthOptions Thresholds,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<DerivedDataAge> DerivedData);

/// <summary>
/// Health that tells the truth: an instance answering from the Substitute, dropping logged
/// features, or whose feature-log consumer is far behind is not "serving", whatever its model. The
/// verdict is <see cref="Evaluate"/>, a pure function of the figures and the limits; <see cref="Check"/>
/// gathers the figures of this instance.
/// </summary>
public sealed class ServingHealth(
    LiveModel live,
    ServingMonitor monitor,
    FeatureLogBuffer featureLog,
    MemberHistoryCache histories,
    IOptions<HealthOptions> options,
    IFeatureLogLag? lag = null,
    Precompute.ServingTitleStats? titleStats = null,
    Precompute.PrecomputedLookups? lookups = null,
    IOptions<Precompute.PrecomputeOptions>? precompute = null,
    TimeProvider? time = null)
{
    public const string NotMeasured = "not measured in this runtime: use the Event Hubs consumer-lag metrics";

    public ServingHealthReport Check()
    {
        var current = live.Current;
        return Evaluate(new HealthInputs(
            current is null ? null : new ServedModel(current.Manifest.Version, current.Manifest.FeatureConfigHash, current.Data.Watermark, current.Data.Snapshot),
            live.Alerts,
            monitor.Window(),
            histories.Stats(),
            new FeatureLogCounters(featureLog.Published, featureLog.Dropped, featureLog.Pending, featureLog.PublishRetries),
            lag?.Source,
            lag?.Measure()) { Derived = DerivedAges() }, options.Value);
    }

    /// <summary>The derived versions loaded here and their age on this instance's clock.</summary>
    private List<DerivedDataAge> DerivedAges()
    {
        var now = (time ?? TimeProvider.System).GetUtcNow();
        var maxAge = (precompute?.Value ?? new Precompute.PrecomputeOptions()).MaxVersionAge;
        var versions = new List<Precompute.DerivedVersion>();
        if (titleStats?.Current is { } stats)
        {
            versions.Add(stats.Version);
        }

        versions.AddRange(lookups?.LoadedVersionList ?? []);
        return versions.Select(v => new DerivedDataAge(v.Dataset, v.Version, v.AsOf, Math.Round((now - v.AsOf).TotalHours, 2), maxAge.TotalHours)).ToList();
    }

    public static ServingHealthReport Evaluate(HealthInputs inputs, HealthOptions limits)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(limits);
        var problems = new List<string>();
        var window = inputs.Window;
        if (inputs.Model is null)
        {
            problems.Add("no valid model is loaded: the Substitute answers every request");
        }

        if (window.Requests > 0 && window.SubstituteShare > limits.MaxSubstituteShare)
        {
            problems.Add(Text($"substitute share {window.SubstituteShare:0.###} over the last minute exceeds {limits.MaxSubstituteShare}"));
        }

        if (window.FeatureLogDrops > limits.MaxDropsPerMinute)
        {
            problems.Add(Text($"{window.FeatureLogDrops} feature-log requests dropped over the last minute exceeds {limits.MaxDropsPerMinute}"));
        }

        if (inputs.Lag is { } lag)
        {
            if (lag.Events > limits.MaxFeatureLogLagEvents)
            {
                problems.Add(Text($"feature-log consumer lag of {lag.Events} events exceeds {limits.MaxFeatureLogLagEvents}"));
            }

            if (lag.OldestAge is { } age && age > limits.MaxFeatureLogLagAge)
            {
                problems.Add(Text($"oldest unacknowledged feature-log event is {age.TotalSeconds:0.#} s old, over {limits.MaxFeatureLogLagAge.TotalSeconds:0.###} s"));
            }
        }

        if (inputs.History.ReadP99MsLastMinute is { } p99 && p99 > limits.MaxHistoryReadP99.TotalMilliseconds)
        {
            problems.Add(Text($"history read p99 {p99:0.#} ms over the last minute exceeds {limits.MaxHistoryReadP99.TotalMilliseconds:0.###} ms"));
        }

        // A stale derived version does not stop serving (lookups and features still answer, as of an
        // older T): it is a warning, the status stays "serving" and the answer 200.
        var warnings = inputs.Derived.Where(d => d.Stale)
            .Select(d => Text($"{d.Dataset} version {d.Version} is as of {d.AsOf:O}, {d.AgeHours:0.#} h old, over Precompute__MaxVersionAge ({d.MaxAgeHours:0.#} h): is the precompute timer running?"))
            .ToList();
        var model = inputs.Model;
        var history = inputs.History;
        var counters = inputs.FeatureLog;
        return new ServingHealthReport(
            problems.Count == 0 ? "serving" : "degraded: " + string.Join("; ", problems),
            problems.Count == 0,
            problems,
            model?.Version,
            model?.ConfigHash,
            model?.DataWatermark,
            model?.Snapshot,
            inputs.Alerts,
            new ServingFigures(window.WindowSeconds, window.Requests, window.Substitute, window.SubstituteShare, window.SubstituteReasons,
                history.ReadsLastMinute, history.ReadP99MsLastMinute, history.Hits, history.Misses),
            new FeatureLogFigures(counters.Published, counters.Dropped, window.FeatureLogDrops, counters.Pending, counters.PublishRetries,
                inputs.Lag?.Events, inputs.Lag?.OldestAge?.TotalSeconds, inputs.LagSource ?? NotMeasured),
            limits,
            warnings,
            inputs.Derived);
    }

    private static string Text(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
