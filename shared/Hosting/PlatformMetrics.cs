using System.Diagnostics.Metrics;

namespace Serverless.Hosting;

/// <summary>
/// The counters operators watch, as System.Diagnostics.Metrics instruments on one meter
/// (<see cref="MeterName"/>), so an exporter (Azure Monitor in Azure) sums them across instances;
/// the per-instance health window (<see cref="Ranking.ServingMonitor"/>) and the components' own
/// counters stay as they are. Recording costs nothing measurable while no listener is attached.
/// </summary>
public sealed class PlatformMetrics
{
    public const string MeterName = "Serverless.Platform";

    /// <summary>Tag on <see cref="RankAnswers"/>: who answered, <c>model</c> or <c>substitute</c>.</summary>
    public const string AnsweredBy = "answered_by";

    /// <summary>Tag on <see cref="RankAnswers"/>: why the Substitute answered.</summary>
    public const string Reason = "reason";

    public const string AlertKind = "alert_kind";
    public const string Check = "check";
    public const string Feature = "feature";

    public PlatformMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        Meter = meterFactory.Create(MeterName);
        RankAnswers = Meter.CreateCounter<long>("serverless.rank.answers", "{request}",
            "Rank requests answered, by who answered (answered_by: model or substitute) and, for the Substitute, why (reason)");
        FeatureLogRequests = Meter.CreateCounter<long>("serverless.lumberjack.logged", "{request}", "Requests queued for the feature log");
        FeatureLogVectors = Meter.CreateCounter<long>("serverless.lumberjack.logged_vectors", "{vector}", "Feature vectors (impressions) queued for the feature log");
        FeatureLogDropped = Meter.CreateCounter<long>("serverless.lumberjack.dropped", "{request}",
            "Feature-log requests dropped (a full buffer, a publish that failed for good, the host stopping)");
        SentinelAlerts = Meter.CreateCounter<long>("serverless.sentinel.alerts", "{alert}",
            "Sentinel alerts by alert_kind (check-failed, candidate-rejected, candidate-expired, loader-refused, republished) and check");
        SkewRequests = Meter.CreateCounter<long>("serverless.skew.requests", "{request}", "Logged requests the skew meter recomputed offline");
        SkewValues = Meter.CreateCounter<long>("serverless.skew.values", "{value}", "Feature values the skew meter compared");
        SkewMismatches = Meter.CreateCounter<long>("serverless.skew.mismatches", "{value}", "Feature values that differ between serving and the offline recomputation, by feature");
    }

    public Meter Meter { get; }

    public Counter<long> RankAnswers { get; }

    public Counter<long> FeatureLogRequests { get; }

    public Counter<long> FeatureLogVectors { get; }

    public Counter<long> FeatureLogDropped { get; }

    public Counter<long> SentinelAlerts { get; }

    public Counter<long> SkewRequests { get; }

    public Counter<long> SkewValues { get; }

    public Counter<long> SkewMismatches { get; }

    public void ModelAnswered() => RankAnswers.Add(1, new KeyValuePair<string, object?>(AnsweredBy, "model"));

    public void SubstituteAnswered(string reason) =>
        RankAnswers.Add(1, new KeyValuePair<string, object?>(AnsweredBy, "substitute"), new KeyValuePair<string, object?>(Reason, reason));

    public void FeatureLogQueued(int vectors)
    {
        FeatureLogRequests.Add(1);
        FeatureLogVectors.Add(vectors);
    }

    public void SentinelAlert(string kind, string? check) =>
        SentinelAlerts.Add(1, new KeyValuePair<string, object?>(AlertKind, kind), new KeyValuePair<string, object?>(Check, check ?? string.Empty));

    /// <summary>One skew-meter run: requests and values compared, and the mismatches of each feature that had any.</summary>
    public void SkewMeasured(long requests, long values, IEnumerable<(string Feature, long Mismatches)> mismatches)
    {
        ArgumentNullException.ThrowIfNull(mismatches);
        SkewRequests.Add(requests);
        SkewValues.Add(values);
        foreach (var (feature, count) in mismatches)
        {
            if (count > 0)
            {
                SkewMismatches.Add(count, new KeyValuePair<string, object?>(Feature, feature));
            }
        }
    }
}
