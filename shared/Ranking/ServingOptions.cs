using System.ComponentModel.DataAnnotations;

namespace Serverless.Ranking;

/// <summary>Settings of online ranking (configuration section "Serving").</summary>
public sealed class ServingOptions
{
    public const string Section = "Serving";

    /// <summary>How long a member's history read from the archive is reused (0 turns the cache off).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan HistoryCacheTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Members whose history is kept in memory at once.</summary>
    [Range(0, 10_000_000)]
    public int HistoryCacheSize { get; set; } = 100_000;

    /// <summary>Budget for reading a member's history; past it the Substitute answers.</summary>
    [Range(typeof(TimeSpan), "00:00:00.0000001", "00:01:00")]
    public TimeSpan Deadline { get; set; } = TimeSpan.FromMilliseconds(250);
}
