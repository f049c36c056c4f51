using System.ComponentModel.DataAnnotations;

namespace Serverless.Ranking;

/// <summary>
/// When an instance stops calling itself healthy (configuration section "Health"): each limit is
/// checked over the last minute or at the moment of the health check, and a limit whose figure is
/// not measured in this runtime is not a failure.
/// </summary>
public sealed class HealthOptions
{
    public const string Section = "Health";

    /// <summary>Largest share of requests the Substitute (popularity fallback) may answer over the last minute.</summary>
    [Range(0.0, 1.0)]
    public double MaxSubstituteShare { get; set; } = 0.01;

    /// <summary>Most feature-log events the Lumberjack's consumer group may be behind.</summary>
    [Range(0, int.MaxValue)]
    public int MaxFeatureLogLagEvents { get; set; } = 50_000;

    /// <summary>Oldest age an unacknowledged feature-log event may reach.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan MaxFeatureLogLagAge { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Feature-log requests that may be dropped per minute.</summary>
    [Range(0, int.MaxValue)]
    public int MaxDropsPerMinute { get; set; }

    /// <summary>Largest p99 of member-history reads from the archive over the last minute.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan MaxHistoryReadP99 { get; set; } = TimeSpan.FromMilliseconds(100);
}
