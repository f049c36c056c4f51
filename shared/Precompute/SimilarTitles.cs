using Serverless.Facts;
using Serverless.Features;

namespace Serverless.Precompute;

/// <summary>
/// Who liked what as of T, indexed for item-item similarity: titles and members as dense integers,
/// each title's likers and each member's liked titles as sorted arrays.
/// </summary>
public sealed class LikeIndex
{
    private LikeIndex(string[] titles, int[][] likers, int[][] likes)
    {
        Titles = titles;
        Likers = likers;
        Likes = likes;
        Index = new Dictionary<string, int>(titles.Length, StringComparer.Ordinal);
        for (var i = 0; i < titles.Length; i++)
        {
            Index.Add(titles[i], i);
        }
    }

    /// <summary>Titles with at least one like, ordinal order.</summary>
    public string[] Titles { get; }

    public Dictionary<string, int> Index { get; }

    /// <summary>Per title index: the members (indexes) who liked it, ascending.</summary>
    public int[][] Likers { get; }

    /// <summary>Per member index: the titles (indexes) they liked, ascending.</summary>
    public int[][] Likes { get; }

    /// <summary>Builds the index from the rating facts current as of their snapshot (see <see cref="KnownRatings"/>).</summary>
    public static LikeIndex Build(IEnumerable<Fact> currentRatings, double likeThreshold)
    {
        var likes = currentRatings.Where(r => r.Value >= likeThreshold).Select(r => (Member: r.Member!, Title: r.Title!)).Distinct().ToList();
        var titles = likes.Select(l => l.Title).Distinct().Order(StringComparer.Ordinal).ToArray();
        var titleIndex = titles.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i, StringComparer.Ordinal);
        var members = likes.Select(l => l.Member).Distinct().Order(StringComparer.Ordinal).Select((m, i) => (m, i)).ToDictionary(x => x.m, x => x.i, StringComparer.Ordinal);
        var likers = new List<int>[titles.Length];
        var liked = new List<int>[members.Count];
        foreach (var (member, title) in likes)
        {
            var m = members[member];
            var t = titleIndex[title];
            (likers[t] ??= []).Add(m);
            (liked[m] ??= []).Add(t);
        }

        static int[] Sorted(List<int>? list)
        {
            var a = list?.ToArray() ?? [];
            Array.Sort(a);
            return a;
        }

        return new LikeIndex(titles, likers.Select(Sorted).ToArray(), liked.Select(Sorted).ToArray());
    }
}

/// <summary>
/// Item-item similarity on likes (cosine: co-likes / sqrt(likes(a) * likes(b))), top-K per title,
/// ties by title id. <see cref="TopK"/> walks co-likes through members (work follows the likes that
/// exist); <see cref="BruteForce"/> compares every pair of titles (the baseline the benchmark measures
/// it against, and the oracle the tests check it with).
/// </summary>
public static class SimilarTitles
{
    /// <summary>Pairs need at least this many members who liked both (one shared like says little).</summary>
    public const int MinCoLikes = 2;

    /// <summary>The top-K similar titles of every title in <paramref name="titles"/> (indexes into the like index).</summary>
    public static List<PrecomputedEntry> TopK(LikeIndex index, IEnumerable<int> titles, int k)
    {
        ArgumentNullException.ThrowIfNull(index);
        var co = new int[index.Titles.Length];
        var touched = new List<int>();
        var result = new List<PrecomputedEntry>();
        foreach (var a in titles)
        {
            foreach (var m in index.Likers[a])
            {
                foreach (var b in index.Likes[m])
                {
                    if (co[b]++ == 0)
                    {
                        touched.Add(b);
                    }
                }
            }

            var candidates = new List<ScoredTitle>(touched.Count);
            foreach (var b in touched)
            {
                if (b != a && co[b] >= MinCoLikes)
                {
                    candidates.Add(new ScoredTitle(index.Titles[b], Cosine(co[b], index.Likers[a].Length, index.Likers[b].Length)));
                }

                co[b] = 0;
            }

            touched.Clear();
            result.Add(new PrecomputedEntry(index.Titles[a], Best(candidates, k)));
        }

        return result;
    }

    /// <summary>Single-threaded brute force over every pair of titles (sorted-list intersections).</summary>
    public static List<PrecomputedEntry> BruteForce(LikeIndex index, int k)
    {
        ArgumentNullException.ThrowIfNull(index);
        var result = new List<PrecomputedEntry>(index.Titles.Length);
        for (var a = 0; a < index.Titles.Length; a++)
        {
            var candidates = new List<ScoredTitle>();
            for (var b = 0; b < index.Titles.Length; b++)
            {
                if (b == a)
                {
                    continue;
                }

                var shared = Intersect(index.Likers[a], index.Likers[b]);
                if (shared >= MinCoLikes)
                {
                    candidates.Add(new ScoredTitle(index.Titles[b], Cosine(shared, index.Likers[a].Length, index.Likers[b].Length)));
                }
            }

            result.Add(new PrecomputedEntry(index.Titles[a], Best(candidates, k)));
        }

        return result;
    }

    private static double Cosine(int shared, int a, int b) => shared / Math.Sqrt((double)a * b);

    private static List<ScoredTitle> Best(List<ScoredTitle> candidates, int k) =>
        candidates.OrderByDescending(c => c.Score).ThenBy(c => c.Title, StringComparer.Ordinal).Take(k).ToList();

    private static int Intersect(int[] x, int[] y)
    {
        int i = 0, j = 0, n = 0;
        while (i < x.Length && j < y.Length)
        {
            if (x[i] == y[j]) { n++; i++; j++; }
            else if (x[i] < y[j]) { i++; }
            else { j++; }
        }

        return n;
    }
}

/// <summary>The rating facts current at T, by the same rules as <see cref="TitleStatsSnapshot.Build"/>: known at T, not superseded by a fact known at T, each id once.</summary>
public static class KnownRatings
{
    public static List<Fact> Current(IEnumerable<Fact> facts, DateTimeOffset t)
    {
        ArgumentNullException.ThrowIfNull(facts);
        HashSet<string>? superseded = null;
        var known = new List<Fact>();
        foreach (var f in facts)
        {
            if (KnownAt.Supersedes(f, t, out var id))
            {
                (superseded ??= new HashSet<string>(StringComparer.Ordinal)).Add(id);
            }

            if (f.Kind == FactKind.Rating && KnownAt.IsKnown(f, t) && !string.IsNullOrEmpty(f.Title) && !string.IsNullOrEmpty(f.Member) && f.Value is { } v && double.IsFinite(v))
            {
                known.Add(f);
            }
        }

        var seen = new HashSet<string>(known.Count, StringComparer.Ordinal);
        return known.Where(f => (superseded is null || !superseded.Contains(f.Id)) && seen.Add(f.Id)).ToList();
    }
}
