using NCrontab;

namespace Serverless.LocalHost.Timers;

/// <summary>
/// A timer trigger's NCRONTAB schedule, parsed by NCrontab (the library and the options the Functions
/// host's timer extension uses): six fields "second minute hour day month day-of-week", or five
/// without the seconds. Times are UTC. A bad schedule is refused with NCrontab's reason.
/// </summary>
public sealed class CronSchedule
{
    private readonly CrontabSchedule schedule;

    private CronSchedule(CrontabSchedule schedule) => this.schedule = schedule;

    public static CronSchedule Parse(string expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        // As the host does: five fields mean no seconds field, anything else is read with seconds.
        var options = new CrontabSchedule.ParseOptions
        {
            IncludingSeconds = expression.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length != 5,
        };
        try
        {
            return new CronSchedule(CrontabSchedule.Parse(expression, options));
        }
        catch (CrontabException ex)
        {
            throw new FormatException($"schedule '{expression}': {ex.Message}", ex);
        }
    }

    /// <summary>The first occurrence strictly after <paramref name="after"/> (UTC, whole seconds).</summary>
    public DateTimeOffset Next(DateTimeOffset after) =>
        new(DateTime.SpecifyKind(schedule.GetNextOccurrence(after.UtcDateTime), DateTimeKind.Utc), TimeSpan.Zero);

    /// <summary>
    /// The time from <paramref name="occurrence"/> to the occurrence after it: the schedule's interval there
    /// (an hour for "0 0 * * * *").
    /// </summary>
    public TimeSpan IntervalAfter(DateTimeOffset occurrence) => Next(occurrence) - occurrence;
}
