using System.Globalization;

namespace Serverless.Archive;

/// <summary>
/// The one rule for <c>asOf</c> on every route (archive history, title, facts, exports, rank): a
/// knowledge time up to now plus <see cref="MaxAhead"/> (clock skew between client and server);
/// later is refused (400), since nothing is known about it yet, and it would reach the stored
/// "never superseded" marker (<see cref="FactRows.Never"/>).
/// </summary>
public static class AsOfRule
{
    /// <summary>How far after now an asOf may lie.</summary>
    public static readonly TimeSpan MaxAhead = TimeSpan.FromMinutes(1);

    /// <summary>The refusal's message, or null when <paramref name="asOf"/> is allowed.</summary>
    public static string? Error(DateTimeOffset asOf, DateTimeOffset now, string field = "asOf") =>
        asOf <= now + MaxAhead
            ? null
            : string.Create(CultureInfo.InvariantCulture,
                $"{field} {asOf:O} is in the future (now is {now:O}): nothing is known about it yet; {field} may be at most {MaxAhead.TotalSeconds:0} s after now");

    /// <summary>Throws <see cref="ArchiveQueryException"/> (400) when <paramref name="asOf"/> breaks the rule.</summary>
    public static void Check(DateTimeOffset? asOf, DateTimeOffset now, string field = "asOf")
    {
        if (asOf is { } at && Error(at, now, field) is { } error)
        {
            throw new ArchiveQueryException(error);
        }
    }
}
