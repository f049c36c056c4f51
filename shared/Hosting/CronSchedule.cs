using System.ComponentModel.DataAnnotations;
using NCrontab;

namespace Serverless.Hosting;

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
        return TryParse(expression, out var schedule, out var error) ? schedule! : throw new FormatException($"schedule '{expression}': {error}");
    }

    /// <summary>The schedule, or false with NCrontab's reason (the host would refuse it at start).</summary>
    public static bool TryParse(string? expression, out CronSchedule? schedule, out string? error)
    {
        (schedule, error) = expression is null
            ? (null, "no schedule")
            : CrontabSchedule.TryParse(expression, Options(expression), s => (new CronSchedule(s), (string?)null), e => ((CronSchedule?)null, e().Message));
        return schedule is not null;
    }

    /// <summary>As the host does: five fields mean no seconds field, anything else is read with seconds.</summary>
    private static CrontabSchedule.ParseOptions Options(string expression) => new()
    {
        IncludingSeconds = expression.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length != 5,
    };

    /// <summary>The first occurrence strictly after <paramref name="after"/> (UTC, whole seconds).</summary>
    public DateTimeOffset Next(DateTimeOffset after) =>
        new(DateTime.SpecifyKind(schedule.GetNextOccurrence(after.UtcDateTime), DateTimeKind.Utc), TimeSpan.Zero);

    /// <summary>
    /// The time from <paramref name="occurrence"/> to the occurrence after it: the schedule's interval there
    /// (an hour for "0 0 * * * *").
    /// </summary>
    public TimeSpan IntervalAfter(DateTimeOffset occurrence) => Next(occurrence) - occurrence;
}

/// <summary>A setting that must be an NCRONTAB schedule the Functions host accepts (<see cref="CronSchedule"/>).</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field | AttributeTargets.Parameter)]
public sealed class NcrontabAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        ArgumentNullException.ThrowIfNull(validationContext);
        string? why = null;
        if (value is null || (value is string s && CronSchedule.TryParse(s, out _, out why)))
        {
            return ValidationResult.Success;
        }

        return new ValidationResult(
            $"{ErrorMessage ?? validationContext.MemberName + " must be an NCRONTAB schedule"} ({why ?? "not text"})",
            validationContext.MemberName is { } member ? [member] : []);
    }
}
