using System.Globalization;
using Serverless.Models;

namespace Serverless.Sentinel;

/// <summary>
/// A feature's distribution in the training set, kept in the manifest: the bins (cut at the
/// training set's deciles, ties merged), the training share per bin, and 101 percentiles for a
/// two-sample KS statistic without keeping the training rows.
/// </summary>
public sealed record FeatureProfile(string Name, double[] Edges, double[] Shares, double[] Percentiles)
{
    /// <summary>The bin of <paramref name="value"/>: bin k holds (Edges[k-1], Edges[k]].</summary>
    public int Bin(double value)
    {
        var i = Array.BinarySearch(Edges, value);
        return i >= 0 ? i : ~i;
    }
}

/// <summary>Population stability index and KS statistic per feature, training set against live logged vectors.</summary>
public static class FeatureDrift
{
    private const double ShareFloor = 1e-4;

    /// <summary>The training set's profile of every feature (deciles for PSI bins, percentiles for KS).</summary>
    public static IReadOnlyList<FeatureProfile> Profile(IReadOnlyList<string> names, IReadOnlyList<float[]> rows)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(rows);
        var profiles = new List<FeatureProfile>(names.Count);
        var column = new double[rows.Count];
        for (var f = 0; f < names.Count; f++)
        {
            for (var i = 0; i < rows.Count; i++)
            {
                column[i] = rows[i][f];
            }

            Array.Sort(column);
            var percentiles = rows.Count == 0 ? [] : Enumerable.Range(0, 101).Select(k => PairedBootstrap.Percentile(column, k / 100.0)).ToArray();
            var edges = rows.Count == 0 ? [] : Enumerable.Range(1, 9).Select(k => PairedBootstrap.Percentile(column, k / 10.0)).Distinct().ToArray();
            var profile = new FeatureProfile(names[f], edges, [], percentiles);
            profiles.Add(profile with { Shares = Shares(profile, column) });
        }

        return profiles;
    }

    public static double[] Shares(FeatureProfile profile, IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var counts = new double[profile.Edges.Length + 1];
        foreach (var v in values)
        {
            counts[profile.Bin(v)]++;
        }

        return counts.Select(c => values.Count == 0 ? 0 : c / values.Count).ToArray();
    }

    /// <summary>PSI = sum over bins of (live - train) * ln(live / train), shares floored at 1e-4.</summary>
    public static double Psi(IReadOnlyList<double> expected, IReadOnlyList<double> actual)
    {
        var psi = 0.0;
        for (var b = 0; b < expected.Count; b++)
        {
            var e = Math.Max(expected[b], ShareFloor);
            var a = Math.Max(actual[b], ShareFloor);
            psi += (a - e) * Math.Log(a / e);
        }

        return psi;
    }

    /// <summary>
    /// Two-sample KS statistic: the largest gap between the live empirical CDF and the training CDF
    /// read off its 101 percentiles (exact to 0.01).
    /// </summary>
    public static double Ks(double[] percentiles, double[] sortedLive)
    {
        if (percentiles.Length == 0 || sortedLive.Length == 0)
        {
            return double.NaN;
        }

        var points = percentiles.Concat(sortedLive).Distinct().Order();
        var max = 0.0;
        foreach (var x in points)
        {
            var live = UpperBound(sortedLive, x) / (double)sortedLive.Length;
            var train = TrainCdf(percentiles, x);
            max = Math.Max(max, Math.Abs(live - train));
        }

        return max;
    }

    private static double TrainCdf(double[] p, double x)
    {
        if (x < p[0]) { return 0; }
        if (x >= p[^1]) { return 1; }
        var k = UpperBound(p, x) - 1;    // p[k] <= x < p[k + 1]
        var within = p[k + 1] > p[k] ? (x - p[k]) / (p[k + 1] - p[k]) : 0;
        return (k + within) / (p.Length - 1);
    }

    /// <summary>How many of the sorted values are &lt;= x.</summary>
    private static int UpperBound(double[] sorted, double x)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (sorted[mid] <= x) { lo = mid + 1; } else { hi = mid; }
        }

        return lo;
    }

    /// <summary>Share of the training rows (the most recent ones) the drift reference is profiled on.</summary>
    public const double ReferenceShare = 0.25;

    /// <summary>The reference window holds at least this many rows (all of them when the set is smaller).</summary>
    public const int MinReferenceRows = 1000;

    /// <summary>
    /// The training set's most recent window, the reference live vectors are compared with: the last
    /// <see cref="ReferenceShare"/> of <paramref name="rowsOldestFirst"/> (at least <see cref="MinReferenceRows"/>).
    /// Live vectors are recent; a training set spans months or years, and features that legitimately
    /// move with time (a title's age, the members active lately) differ between a multi-year window
    /// and the last days by more than any skew would. The window right before live traffic is the
    /// fair reference: what the candidate last learned on.
    /// </summary>
    public static IReadOnlyList<T> ReferenceWindow<T>(IReadOnlyList<T> rowsOldestFirst)
    {
        ArgumentNullException.ThrowIfNull(rowsOldestFirst);
        var take = Math.Min(rowsOldestFirst.Count, Math.Max(MinReferenceRows, (int)Math.Ceiling(rowsOldestFirst.Count * ReferenceShare)));
        return rowsOldestFirst.Skip(rowsOldestFirst.Count - take).ToList();
    }

    /// <summary>Upper 1% points of the chi-square distribution with 1..9 degrees of freedom.</summary>
    private static readonly double[] ChiSquare99 = [6.635, 9.210, 11.345, 13.277, 15.086, 16.812, 18.475, 20.090, 21.666];

    /// <summary>
    /// The PSI above which a feature drifts: the larger of <see cref="SentinelOptions.MaxPsi"/> and the
    /// PSI that two samples of the same distribution exceed only 1% of the time. n·PSI is close to
    /// chi-square with bins − 1 degrees of freedom for <paramref name="units"/> independent live units
    /// against an exact reference; against a reference of <paramref name="referenceUnits"/> units the
    /// scale is 1/n + 1/m (the two-sample test of homogeneity). Rows of one logged request share the
    /// member, so the request is the unit: 100 requests of 20 vectors are 100 observations, not 2,000.
    /// </summary>
    public static double PsiLimit(FeatureProfile profile, double units, double maxPsi, double? referenceUnits = null)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var df = Math.Clamp(profile.Edges.Length, 1, ChiSquare99.Length);
        var scale = (units > 0 ? 1 / units : 0) + (referenceUnits is > 0 and var m ? 1 / m : 0);
        return scale == 0 ? maxPsi : Math.Max(maxPsi, ChiSquare99[df - 1] * scale);
    }

    /// <summary>
    /// Member features (named <c>member_*</c>) take one value per member at a time, so their independent
    /// units are the members, not the requests: 150 requests of 10 members are 10 draws of a member's
    /// rating count, and when one member holds most rows, fewer still (<see cref="MemberUnits.Effective"/>,
    /// the design effect of a cluster sample). Below this many effective members the check does not judge
    /// them (and says so): which few members were active lately would decide the verdict, not drift.
    /// </summary>
    public const int MinMembersForMemberFeatures = 30;

    public static bool IsMemberFeature(string name) => name.StartsWith("member_", StringComparison.Ordinal);

    /// <summary>
    /// The drift check: fails when any feature's PSI passes its limit (<see cref="PsiLimit"/>), naming
    /// each one. <paramref name="units"/>: the independent units among the live vectors (logged
    /// requests); null counts every vector as one. <paramref name="members"/>: the members among them,
    /// when known; member features then count effective members as their units (against
    /// <paramref name="referenceMembers"/>, the training window's effective members, when known), and
    /// are not judged below <see cref="MinMembersForMemberFeatures"/> effective members.
    /// </summary>
    public static SentinelCheck Check(IReadOnlyList<FeatureProfile>? reference, IReadOnlyList<float[]> live, SentinelOptions options, int? units = null, MemberUnits? members = null, double? referenceMembers = null)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(options);
        var n = units ?? live.Count;
        var memberText = members is { } mu
            ? string.Create(CultureInfo.InvariantCulture, $"; member features by members: {mu.Distinct} in the shadow data, {mu.Effective:F1} effective{(referenceMembers is { } rm ? $", against {rm:F1} effective in the training window" : "")}, judged from {MinMembersForMemberFeatures} effective")
            : "";
        var threshold = string.Create(CultureInfo.InvariantCulture,
            $"PSI <= max({options.MaxPsi:G3}, chi-square 99% point / {n} live requests{memberText}) for every feature (bins: deciles of the training set's most recent window)");
        if (reference is null || reference.Count == 0)
        {
            return SentinelCheck.Skip(SentinelChecks.FeatureDrift, threshold, "the manifest carries no training-set feature profile (trained before profiles were kept)");
        }

        if (live.Count < options.MinShadowRows)
        {
            return SentinelCheck.Skip(SentinelChecks.FeatureDrift, threshold, $"{live.Count} recent logged vectors, fewer than {options.MinShadowRows}");
        }

        var psi = new double[reference.Count];
        var ks = new double[reference.Count];
        var column = new double[live.Count];
        for (var f = 0; f < reference.Count; f++)
        {
            for (var i = 0; i < live.Count; i++)
            {
                column[i] = live[i][f];
            }

            Array.Sort(column);
            psi[f] = Psi(reference[f].Shares, Shares(reference[f], column));
            ks[f] = Ks(reference[f].Percentiles, column);
        }

        var limit = reference.Select(p => members is { } m && IsMemberFeature(p.Name) ? PsiLimit(p, m.Effective, options.MaxPsi, referenceMembers) : PsiLimit(p, n, options.MaxPsi)).ToArray();
        HashSet<int> unjudged = members is { } few && few.Effective < MinMembersForMemberFeatures
            ? Enumerable.Range(0, psi.Length).Where(f => IsMemberFeature(reference[f].Name)).ToHashSet()
            : [];
        var tooFew = members is { } t ? string.Create(CultureInfo.InvariantCulture, $"{t.Distinct} members in the shadow data, {t.Effective:F1} effective, fewer than {MinMembersForMemberFeatures}") : "";
        var judged = Enumerable.Range(0, psi.Length).Where(f => !unjudged.Contains(f)).ToList();
        if (judged.Count == 0)
        {
            return SentinelCheck.Skip(SentinelChecks.FeatureDrift, threshold, $"only member features, and {tooFew}");
        }

        var drifting = judged.Where(f => psi[f] > limit[f]).OrderByDescending(f => psi[f] / limit[f]).ToList();
        var worst = judged.MaxBy(f => psi[f] / limit[f]);
        string Named(int f) => string.Create(CultureInfo.InvariantCulture, $"{reference[f].Name} PSI {psi[f]:F3} (limit {limit[f]:F3}) KS {ks[f]:F3}");
        var measured = (drifting.Count > 0
            ? $"{drifting.Count} drifting: " + string.Join(", ", drifting.Select(Named))
            : "none drifting; largest " + Named(worst))
            + (unjudged.Count > 0 ? $"; member features not judged ({tooFew}): " + string.Join(", ", unjudged.Order().Select(Named)) : "");
        return new SentinelCheck(SentinelChecks.FeatureDrift, measured, threshold, drifting.Count == 0)
        {
            Value = psi[worst],
            Explanation = drifting.Count == 0
                ? unjudged.Count == 0
                    ? $"live logged vectors ({live.Count}) are distributed like the training set"
                    : $"live logged vectors ({live.Count}) are distributed like the training set on every judged feature; member features are shown, not judged: too few effective members"
                : "live inputs differ from what the candidate learned on: " + string.Join(", ", drifting.Select(f => reference[f].Name)),
            Plot = new Dictionary<string, double[]> { ["psi"] = psi, ["limit"] = limit, ["ks"] = ks, ["judged"] = psi.Select((_, f) => unjudged.Contains(f) ? 0.0 : 1.0).ToArray() },
        };
    }
}
