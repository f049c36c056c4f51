using System.ComponentModel.DataAnnotations;

namespace Serverless.Ranking;

/// <summary>Settings of online ranking (configuration section "Serving").</summary>
public sealed class ServingOptions : IValidatableObject
{
    public const string Section = "Serving";

    /// <summary>How long a member's history read from the archive is reused (0 turns the cache off).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan HistoryCacheTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Members whose history is kept in memory at once.</summary>
    [Range(0, 10_000_000)]
    public int HistoryCacheSize { get; set; } = 100_000;

    /// <summary>
    /// How long before a cached history expires a request that hits it has it read again in the
    /// background (the entry is served meanwhile); 0 turns refreshing ahead off. Shorter than the TTL.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan HistoryRefreshAhead { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a request waits for the member's history; past it the Substitute answers. The read
    /// itself goes on and fills the cache for the member's next request.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.0000001", "00:01:00")]
    public TimeSpan Deadline { get; set; } = TimeSpan.FromMilliseconds(250);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (HistoryCacheTtl > TimeSpan.Zero && HistoryRefreshAhead >= HistoryCacheTtl)
        {
            yield return new ValidationResult(
                $"{nameof(HistoryRefreshAhead)} ({HistoryRefreshAhead}) must be shorter than {nameof(HistoryCacheTtl)} ({HistoryCacheTtl})",
                [nameof(HistoryRefreshAhead)]);
        }
    }
}
