using Serverless.Facts;
using Serverless.Features;
using Serverless.Precompute;
using Serverless.Training;

namespace Serverless.TimeMachine;

/// <summary>A training row whose features change when everything not known at its time is taken away.</summary>
public sealed record LeakageViolation(int Row, string Member, string Title, DateTimeOffset Time, IReadOnlyList<string> Features);

/// <summary>The leakage scan's answer: rows checked, rows that leak (with the features), and problems with the set's data.</summary>
public sealed record LeakageReport(int Rows, int Checked, IReadOnlyList<LeakageViolation> Violations, IReadOnlyList<string> Problems, string? Skipped)
{
    public const int NamedRows = 5;

    /// <summary>Every row was checked and none leaks (a skipped scan is not clean).</summary>
    public bool Clean => Skipped is null && Violations.Count == 0 && Problems.Count == 0;

    public string Summary() =>
        Skipped is not null ? $"leakage scan skipped: {Skipped}"
        : Clean ? $"leakage scan: {Checked} of {Rows} rows recomputed from the facts known at their time, none leaks"
        : $"leakage scan: {Violations.Count} of {Checked} rows use data not known at their time"
          + (Violations.Count == 0 ? "" : ": " + string.Join("; ", Violations.Take(NamedRows).Select(v => $"row {v.Row} (member {v.Member}, title {v.Title}, {v.Time:O}): {string.Join(", ", v.Features)}")))
          + (Problems.Count == 0 ? "" : "; " + string.Join("; ", Problems));
}

/// <summary>A training set that uses data not known at its rows' time: it must not be trained on.</summary>
public sealed class LeakageException(LeakageReport report) : Exception(report.Summary())
{
    public LeakageReport Report { get; } = report;
}

/// <summary>
/// The Time Machine's leakage scan, run on every training set cut from history: each row is
/// recomputed by the encoder from only the facts that had happened and were known at the row's time
/// (event time and ingest time at or before it: catalog, title statistics, the member's history),
/// and compared bit for bit with the row. A row that differs had an input from its future; the
/// scan names the rows and the features. Title statistics read from a derived version must be of a
/// version whose as-of time is not after the row's time.
/// </summary>
public static class LeakageScan
{
    /// <summary>The report of a scan not made, with its reason (a set whose rows cannot be recomputed here).</summary>
    public static LeakageReport Skip(TrainingSet set, string reason)
    {
        ArgumentNullException.ThrowIfNull(set);
        return new LeakageReport(set.Train.Count + set.Validation.Count, 0, [], [], reason);
    }

    public static LeakageReport Scan(TrainingSet set, IReadOnlyList<Fact> facts, FeatureEncoder encoder, TitleStatsTimeline? timeline = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(facts);
        ArgumentNullException.ThrowIfNull(encoder);
        var rows = set.Train.Concat(set.Validation).ToList();
        if (set.Contexts is not { } contexts)
        {
            return Skip(set, "the set has no row contexts (logged features are checked by the skew meter)");
        }

        if (contexts.Count != rows.Count)
        {
            return new LeakageReport(rows.Count, 0, [], [$"{contexts.Count} row contexts for {rows.Count} rows"], null);
        }

        var violations = new List<LeakageViolation>();
        var problems = new List<string>();
        var vector = new float[encoder.Count];
        foreach (var atTime in Enumerable.Range(0, rows.Count).GroupBy(i => contexts[i].Time))
        {
            var t = atTime.Key;
            var known = facts.Where(f => KnownAt.IsKnown(f, t)).ToList();
            var ratings = known.Where(f => f.Kind == FactKind.Rating).ToList();
            var catalog = Catalog.Build(known, t);
            var stats = TitleStatsSnapshot.Build(ratings, t, encoder.Config);
            if (timeline?.At(t) is { } derived)
            {
                if (derived.Version.AsOf > t)
                {
                    problems.Add($"title statistics {derived.Version.Version} are as of {derived.Version.AsOf:O}, after rows at {t:O}");
                }

                stats = derived.Stats;
            }

            var histories = ratings.GroupBy(f => f.Member!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (IReadOnlyList<Fact>)g.ToList(), StringComparer.Ordinal);
            var profiles = new Dictionary<string, MemberProfile>(StringComparer.Ordinal);
            foreach (var row in atTime)
            {
                var context = contexts[row];
                if (!profiles.TryGetValue(context.Member, out var profile))
                {
                    profile = encoder.Profile(new MemberHistory(context.Member, histories.GetValueOrDefault(context.Member) ?? []), t, catalog, stats);
                    profiles[context.Member] = profile;
                }

                encoder.Encode(profile, context.Title, vector);
                var features = rows[row].Features;
                var moved = encoder.Names.Where((_, f) => f >= features.Length || BitConverter.SingleToInt32Bits(features[f]) != BitConverter.SingleToInt32Bits(vector[f])).ToList();
                if (moved.Count > 0)
                {
                    violations.Add(new LeakageViolation(row, context.Member, context.Title, t, moved));
                }
            }
        }

        return new LeakageReport(rows.Count, rows.Count, violations, problems, null);
    }
}
