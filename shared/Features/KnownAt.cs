using Serverless.Facts;

namespace Serverless.Features;

/// <summary>
/// The one no-leakage rule every feature input goes through, the same rule as the archive's as-of
/// reads: at time T a fact is usable only when it had happened (<c>EventTime &lt;= T</c>) and the
/// system had learned it (<c>IngestTime &lt;= T</c>). A correction or retraction known at T
/// (<c>IngestTime &lt;= T</c>) hides the fact it supersedes, as the archive marks it superseded from
/// the correction's ingest time on.
/// </summary>
public static class KnownAt
{
    /// <summary>Whether <paramref name="fact"/> had happened and was known at <paramref name="t"/>.</summary>
    public static bool IsKnown(Fact fact, DateTimeOffset t) => fact.EventTime <= t && fact.IngestTime <= t;

    /// <summary>Whether <paramref name="fact"/> supersedes another fact as seen at <paramref name="t"/>.</summary>
    public static bool Supersedes(Fact fact, DateTimeOffset t, out string supersededId)
    {
        if (fact.Supersedes is { } id && fact.IngestTime <= t)
        {
            supersededId = id;
            return true;
        }

        supersededId = string.Empty;
        return false;
    }

    /// <summary>Orders facts newest first by event time, then by id (ordinal), as the archive's row keys do.</summary>
    public static int NewestFirst(Fact a, Fact b)
    {
        var byTime = b.EventTime.UtcTicks.CompareTo(a.EventTime.UtcTicks);
        return byTime != 0 ? byTime : string.CompareOrdinal(a.Id, b.Id);
    }
}
