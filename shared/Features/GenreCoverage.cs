using Serverless.Facts;

namespace Serverless.Features;

/// <summary>A genre the catalog names that the feature config does not, and how many titles carry it.</summary>
public sealed record UnknownGenre(string Genre, int Titles);

/// <summary>
/// Which catalog genres the encoder ignores: a genre outside <see cref="FeatureConfig.Genres"/>
/// gets no bit (another MovieLens release spells "Children's", or has "unknown"). A run reports
/// them once, with names and counts, so a user feeding other data learns what the encoder drops.
/// </summary>
public static class GenreCoverage
{
    /// <summary>The unknown genres of the catalog facts among <paramref name="facts"/>, most titles first (then by name).</summary>
    public static IReadOnlyList<UnknownGenre> Unknown(IEnumerable<Fact> facts, FeatureConfig config)
    {
        var known = config.Genres.ToHashSet(StringComparer.Ordinal);
        var titles = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var fact in facts)
        {
            if (fact.Kind != FactKind.Catalog || CatalogEntry.FromFact(fact) is not { } entry)
            {
                continue;
            }

            foreach (var genre in entry.Genres.Where(g => !known.Contains(g)))
            {
                if (!titles.TryGetValue(genre, out var set))
                {
                    titles[genre] = set = new HashSet<string>(StringComparer.Ordinal);
                }

                set.Add(entry.Title);
            }
        }

        return titles.Select(kv => new UnknownGenre(kv.Key, kv.Value.Count))
            .OrderByDescending(g => g.Titles).ThenBy(g => g.Genre, StringComparer.Ordinal).ToList();
    }

    /// <summary>One line for a log: "3 genres: unknown (18 titles), Children's (251 titles), ...".</summary>
    public static string Describe(IReadOnlyList<UnknownGenre> unknown) =>
        $"{unknown.Count} genre{(unknown.Count == 1 ? "" : "s")}: " + string.Join(", ", unknown.Select(g => $"'{g.Genre}' ({g.Titles} title{(g.Titles == 1 ? "" : "s")})"));
}
