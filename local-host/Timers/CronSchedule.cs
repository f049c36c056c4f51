using System.Globalization;

namespace Serverless.LocalHost.Timers;

/// <summary>
/// An NCRONTAB schedule as the Functions timer trigger reads it: six fields, "second minute hour
/// day month day-of-week", each "*", a number, a range "a-b", a list "a,b" or a step "*/n" / "a-b/n".
/// Times are UTC. Anything else is refused with the field that is wrong.
/// </summary>
public sealed class CronSchedule
{
    private readonly bool[][] allowed;
    private readonly bool anyDay;
    private readonly bool anyWeekday;

    private static readonly (int Min, int Max, string Name)[] Fields =
        [(0, 59, "second"), (0, 59, "minute"), (0, 23, "hour"), (1, 31, "day"), (1, 12, "month"), (0, 6, "day-of-week")];

    private CronSchedule(bool[][] allowed, bool anyDay, bool anyWeekday)
    {
        this.allowed = allowed;
        this.anyDay = anyDay;
        this.anyWeekday = anyWeekday;
    }

    public static CronSchedule Parse(string expression)
    {
        var parts = expression.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 6)
        {
            throw new FormatException($"schedule '{expression}' needs 6 fields (second minute hour day month day-of-week), not {parts.Length}");
        }

        var allowed = new bool[6][];
        for (var f = 0; f < 6; f++)
        {
            var (min, max, name) = Fields[f];
            allowed[f] = new bool[max + 1];
            foreach (var item in parts[f].Split(','))
            {
                var (range, step) = item.Split('/') switch
                {
                    [var r] => (r, 1),
                    [var r, var s] when int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 => (r, n),
                    _ => throw new FormatException($"schedule '{expression}': bad step in {name} field '{item}'"),
                };
                int from, to;
                if (range == "*")
                {
                    (from, to) = (min, max);
                }
                else if (range.Split('-') is [var a, var b] && Number(a, out from) && Number(b, out to))
                {
                }
                else if (Number(range, out from))
                {
                    to = step > 1 ? max : from;
                }
                else
                {
                    throw new FormatException($"schedule '{expression}': bad {name} field '{item}'");
                }

                if (from < min || to > max || from > to)
                {
                    throw new FormatException($"schedule '{expression}': {name} must be within {min}..{max}");
                }

                for (var v = from; v <= to; v += step)
                {
                    allowed[f][v] = true;
                }
            }
        }

        return new CronSchedule(allowed, parts[3] == "*", parts[5] == "*");
    }

    private static bool Number(string s, out int value) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    /// <summary>The first occurrence strictly after <paramref name="after"/> (UTC, whole seconds).</summary>
    public DateTimeOffset Next(DateTimeOffset after)
    {
        var t = new DateTimeOffset(after.UtcDateTime.Ticks - (after.UtcDateTime.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero).AddSeconds(1);
        var limit = t.AddYears(5);
        while (t < limit)
        {
            if (!allowed[4][t.Month]) { t = new DateTimeOffset(t.Year, t.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1); continue; }
            if (!DayMatches(t)) { t = new DateTimeOffset(t.Year, t.Month, t.Day, 0, 0, 0, TimeSpan.Zero).AddDays(1); continue; }
            if (!allowed[2][t.Hour]) { t = new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, 0, 0, TimeSpan.Zero).AddHours(1); continue; }
            if (!allowed[1][t.Minute]) { t = new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, TimeSpan.Zero).AddMinutes(1); continue; }
            if (!allowed[0][t.Second]) { t = t.AddSeconds(1); continue; }
            return t;
        }

        throw new InvalidOperationException("schedule has no occurrence within five years");
    }

    // As in cron: when both day and day-of-week are restricted, either may match.
    private bool DayMatches(DateTimeOffset t)
    {
        var day = allowed[3][t.Day];
        var weekday = allowed[5][(int)t.DayOfWeek];
        return anyDay && anyWeekday ? true : anyDay ? weekday : anyWeekday ? day : day || weekday;
    }
}
