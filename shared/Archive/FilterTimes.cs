namespace Serverless.Archive;

/// <summary>
/// Time bounds of a table query, widened for storage. Azurite compares the times in a filter as
/// JavaScript dates (whole milliseconds); Azure Tables to 100 ns. A query sends its time bounds
/// widened by <see cref="Margin"/> and applies the exact rule to the rows that come back, so two
/// moments within one millisecond are told apart on both (a read as of a moment between two ingest
/// times, a file landed just after a time).
/// </summary>
public static class FilterTimes
{
    public static readonly TimeSpan Margin = TimeSpan.FromMilliseconds(1);

    /// <summary><paramref name="t"/> plus the margin (for upper bounds).</summary>
    public static DateTimeOffset Later(DateTimeOffset t) => t <= DateTimeOffset.MaxValue - Margin ? t + Margin : DateTimeOffset.MaxValue;

    /// <summary><paramref name="t"/> minus the margin (for lower bounds).</summary>
    public static DateTimeOffset Earlier(DateTimeOffset t) => t >= DateTimeOffset.MinValue + Margin ? t - Margin : DateTimeOffset.MinValue;
}
