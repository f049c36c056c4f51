using System.Globalization;
using Serverless.Facts;
using Serverless.Features;
using Serverless.MovieLens;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Features;

/// <summary>Hand-built facts for feature tests.</summary>
internal static class F
{
    public static readonly DateTimeOffset T = new(2020, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public static DateTimeOffset DaysBefore(double days) => T.AddDays(-days);

    public static Fact Rating(string member, string title, double value, DateTimeOffset eventTime, DateTimeOffset? ingestTime = null, string? id = null, string? supersedes = null) =>
        new(id ?? $"rating:{member}:{title}:{eventTime.UtcTicks}", FactKind.Rating, member, title, value, eventTime, ingestTime ?? eventTime, supersedes);

    public static Fact Catalog(string title, string genres, int? year, DateTimeOffset eventTime, DateTimeOffset? ingestTime = null, string? id = null, string? supersedes = null)
    {
        var attributes = new Dictionary<string, string> { ["name"] = "Title " + title, ["genres"] = genres };
        if (year is { } y) { attributes["year"] = y.ToString(CultureInfo.InvariantCulture); }
        return new Fact(id ?? $"catalog:{title}:{eventTime.UtcTicks}", FactKind.Catalog, null, title, null, eventTime, ingestTime ?? eventTime, supersedes, attributes);
    }

    public static Fact Retraction(string member, string supersedes, DateTimeOffset time) =>
        new($"retraction:{supersedes}:{time.UtcTicks}", FactKind.Retraction, member, null, null, time, time, supersedes);

    /// <summary>Everything the encoder needs at <paramref name="t"/>, derived from one list of facts the same way training would.</summary>
    public static float[][] Vectors(FeatureEncoder encoder, IReadOnlyList<Fact> facts, string member, DateTimeOffset t, IReadOnlyList<string> candidates)
    {
        var catalog = Serverless.Features.Catalog.Build(facts, t);
        var stats = TitleStatsSnapshot.Build(facts, t, encoder.Config);
        var history = new MemberHistory(member, facts.Where(f => f.Member == member).ToList());
        var profile = encoder.Profile(history, t, catalog, stats);
        return candidates.Select(c => encoder.Encode(profile, c)).ToArray();
    }

    /// <summary>Bit patterns, so "equal" means bit-identical (NaN-safe, -0 distinct).</summary>
    public static int[][] Bits(float[][] vectors) =>
        vectors.Select(v => v.Select(BitConverter.SingleToInt32Bits).ToArray()).ToArray();

    /// <summary>What the archive's live read returns at <paramref name="t"/>: current ratings known at t, newest first (event time, id), limited.</summary>
    public static List<Fact> ArchiveRead(IEnumerable<Fact> memberFacts, DateTimeOffset t, int limit)
    {
        var list = memberFacts.ToList();
        var superseded = list.Where(f => f.Supersedes is not null && f.IngestTime <= t).Select(f => f.Supersedes!).ToHashSet();
        return list
            .Where(f => f.Kind == FactKind.Rating && f.EventTime <= t && f.IngestTime <= t && !superseded.Contains(f.Id))
            .OrderByDescending(f => f.EventTime).ThenBy(f => f.Id, StringComparer.Ordinal)
            .Take(limit)
            .ToList();
    }
}

/// <summary>MovieLens as facts (ingest time = event time, as the replay does), loaded once per test class.</summary>
public sealed class MovieLensWorld
{
    public MovieLensWorld()
    {
        Facts = MovieLensFacts.Load(Repo.Path("data", "movielens")).Select(ToFact).ToList();
        Ratings = Facts.Where(f => f.Kind == FactKind.Rating).ToList();
        ByMember = Ratings.GroupBy(f => f.Member!).ToDictionary(g => g.Key, g => (IReadOnlyList<Fact>)g.ToList());
    }

    public IReadOnlyList<Fact> Facts { get; }

    public IReadOnlyList<Fact> Ratings { get; }

    public IReadOnlyDictionary<string, IReadOnlyList<Fact>> ByMember { get; }

    /// <summary>The event time below which 80% of the ratings fall.</summary>
    public DateTimeOffset Watermark => Ratings.Select(r => r.EventTime).Order().ElementAt(Ratings.Count * 8 / 10);

    private static Fact ToFact(FactEnvelope e) => new(
        e.Id!,
        e.Kind switch { "rating" => FactKind.Rating, "catalog" => FactKind.Catalog, _ => FactKind.Retraction },
        e.Member, e.Title, e.Value, e.EventTime!.Value, e.EventTime!.Value, e.Supersedes, e.Attributes);
}
