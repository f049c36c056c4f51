using Serverless.Hosting;

namespace Serverless.Tests.LocalHost;

public sealed class CronScheduleTests
{
    private static readonly DateTimeOffset T = new(2026, 11, 26, 10, 17, 42, TimeSpan.Zero); // a Thursday

    [Theory]
    [InlineData("0 0 * * * *", "2026-11-26T11:00:00Z")]
    [InlineData("*/15 * * * * *", "2026-11-26T10:17:45Z")]
    [InlineData("0 */5 * * * *", "2026-11-26T10:20:00Z")]
    [InlineData("30 9 * * * *", "2026-11-26T11:09:30Z")]
    [InlineData("0 0 9-17 * * *", "2026-11-26T11:00:00Z")]
    [InlineData("0 0 3 * * *", "2026-11-27T03:00:00Z")]
    [InlineData("0 0 0 1 * *", "2026-12-01T00:00:00Z")]
    [InlineData("0 0 0 * * 1", "2026-11-30T00:00:00Z")]
    [InlineData("0 0 0 29 2 *", "2028-02-29T00:00:00Z")]
    [InlineData("0 0 12 * * 1,3,5", "2026-11-27T12:00:00Z")]
    [InlineData("0 0 12 * * MON-FRI", "2026-11-26T12:00:00Z")]
    [InlineData("0 0 0 1 JAN *", "2027-01-01T00:00:00Z")]
    [InlineData("0 0 * * *", "2026-11-27T00:00:00Z")] // five fields, as the host reads them: no seconds
    public void Next_occurrence(string schedule, string expected) =>
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), CronSchedule.Parse(schedule).Next(T));

    [Theory]
    [InlineData("0 0 * *", "6 components")]
    [InlineData("61 * * * * *", "Second")]
    [InlineData("0 0 25 * * *", "Hour")]
    [InlineData("0 0 * * 13 *", "Month")]
    [InlineData("0 x * * * *", "Minute")]
    [InlineData("0 0 0 * * 8", "DayOfWeek")]
    public void Bad_schedules_are_refused_with_the_field(string schedule, string reason) =>
        Assert.True(Assert.Throws<FormatException>(() => CronSchedule.Parse(schedule)).Message is var m && m.Contains(reason, StringComparison.Ordinal), m);
}
