using System.Globalization;
using System.Text;
using Serverless.Facts;

namespace Serverless.MovieLens;

/// <summary>
/// Reads MovieLens (ml-latest-small: ratings.csv, movies.csv) into facts in event-time order.
/// Catalog entries carry no timestamp in MovieLens: each title's entry is dated one second before
/// its first rating (or the first rating overall for unrated titles), so the catalog is known
/// before anyone rates it. Ties in time are broken by (kind: catalog first, member, title).
/// </summary>
public static class MovieLensFacts
{
    public static IReadOnlyList<FactEnvelope> Load(string folder, int? maxRatings = null)
    {
        var ratings = ReadRatings(Path.Combine(folder, "ratings.csv"));
        if (maxRatings is { } max)
        {
            ratings = ratings.OrderBy(r => r.Time).ThenBy(r => r.User).ThenBy(r => r.Movie).Take(max).ToList();
        }

        var firstRating = new Dictionary<int, long>();
        foreach (var r in ratings)
        {
            firstRating[r.Movie] = firstRating.TryGetValue(r.Movie, out var t) ? Math.Min(t, r.Time) : r.Time;
        }

        var start = ratings.Count == 0 ? 0 : ratings.Min(r => r.Time);
        var facts = new List<(long Time, int Order, int A, int B, FactEnvelope Fact)>(ratings.Count + 10_000);
        foreach (var m in ReadMovies(Path.Combine(folder, "movies.csv")))
        {
            if (maxRatings is not null && !firstRating.ContainsKey(m.Id))
            {
                continue;
            }

            var time = (firstRating.TryGetValue(m.Id, out var t) ? t : start) - 1;
            var attributes = new Dictionary<string, string> { ["name"] = m.Name, ["genres"] = m.Genres };
            if (m.Year is { } year) { attributes["year"] = year.ToString(CultureInfo.InvariantCulture); }
            facts.Add((time, 0, m.Id, 0, new FactEnvelope
            {
                Id = $"catalog:{m.Id}",
                Kind = "catalog",
                Title = m.Id.ToString(CultureInfo.InvariantCulture),
                EventTime = DateTimeOffset.FromUnixTimeSeconds(time),
                Attributes = attributes,
            }));
        }

        foreach (var r in ratings)
        {
            facts.Add((r.Time, 1, r.User, r.Movie, new FactEnvelope
            {
                Id = $"rating:{r.User}:{r.Movie}",
                Kind = "rating",
                Member = r.User.ToString(CultureInfo.InvariantCulture),
                Title = r.Movie.ToString(CultureInfo.InvariantCulture),
                Value = r.Value,
                EventTime = DateTimeOffset.FromUnixTimeSeconds(r.Time),
            }));
        }

        return facts.OrderBy(f => f.Time).ThenBy(f => f.Order).ThenBy(f => f.A).ThenBy(f => f.B).Select(f => f.Fact).ToList();
    }

    public sealed record Rating(int User, int Movie, double Value, long Time);

    public sealed record Movie(int Id, string Name, string Genres, int? Year);

    public static List<Rating> ReadRatings(string path)
    {
        var result = new List<Rating>(101_000);
        using var reader = new StreamReader(path, Encoding.UTF8);
        ExpectHeader(reader.ReadLine(), "userId,movieId,rating,timestamp", path);
        while (reader.ReadLine() is { } line)
        {
            var f = line.Split(',');
            if (f.Length != 4)
            {
                throw new InvalidDataException($"{path}: expected 4 fields in '{line}'");
            }

            result.Add(new Rating(
                int.Parse(f[0], CultureInfo.InvariantCulture),
                int.Parse(f[1], CultureInfo.InvariantCulture),
                double.Parse(f[2], CultureInfo.InvariantCulture),
                long.Parse(f[3], CultureInfo.InvariantCulture)));
        }

        return result;
    }

    public static List<Movie> ReadMovies(string path)
    {
        var result = new List<Movie>(10_000);
        using var reader = new StreamReader(path, Encoding.UTF8);
        ExpectHeader(reader.ReadLine(), "movieId,title,genres", path);
        while (reader.ReadLine() is { } line)
        {
            var f = SplitCsv(line);
            if (f.Count != 3)
            {
                throw new InvalidDataException($"{path}: expected 3 fields in '{line}'");
            }

            var name = f[1].Trim();
            int? year = null;
            var open = name.LastIndexOf('(');
            if (open >= 0 && name.EndsWith(')') && int.TryParse(name.AsSpan(open + 1, name.Length - open - 2), NumberStyles.None, CultureInfo.InvariantCulture, out var y) && y is > 1800 and < 2100)
            {
                year = y;
            }

            result.Add(new Movie(int.Parse(f[0], CultureInfo.InvariantCulture), name, f[2], year));
        }

        return result;
    }

    private static void ExpectHeader(string? header, string expected, string path)
    {
        if (header?.TrimStart('\uFEFF') != expected)
        {
            throw new InvalidDataException($"{path}: expected header '{expected}', found '{header}'");
        }
    }

    /// <summary>Splits one CSV line with double-quoted fields ("" escapes a quote).</summary>
    public static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { current.Append('"'); i++; }
                else if (c == '"') { quoted = false; }
                else { current.Append(c); }
            }
            else if (c == '"') { quoted = true; }
            else if (c == ',') { fields.Add(current.ToString()); current.Clear(); }
            else { current.Append(c); }
        }

        fields.Add(current.ToString());
        return fields;
    }
}
