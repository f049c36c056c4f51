using Serverless.LocalHost.Timers;

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
    public void Next_occurrence(string schedule, string expected) =>
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), CronSchedule.Parse(schedule).Next(T));

    [Theory]
    [InlineData("0 0 * * *", "needs 6 fields")]
    [InlineData("61 * * * * *", "second must be within")]
    [InlineData("0 0 25 * * *", "hour must be within")]
    [InlineData("0 0 * * 13 *", "month must be within")]
    [InlineData("0 x * * * *", "bad minute field")]
    [InlineData("*/0 * * * * *", "bad step")]
    public void Bad_schedules_are_refused_with_the_field(string schedule, string reason) =>
        Assert.Contains(reason, Assert.Throws<FormatException>(() => CronSchedule.Parse(schedule)).Message, StringComparison.Ordinal);
}
