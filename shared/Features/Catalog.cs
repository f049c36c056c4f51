using System.Globalization;
using Serverless.Facts;

namespace Serverless.Features;

/// <summary>A title's catalog entry as the feature code sees it.</summary>
/// <param name="Genres">Genre names in catalog order (MovieLens: pipe-separated attribute "genres").</param>
/// <param name="FirstSeen">When the catalog first knew the title: the earliest event time of its catalog facts.</param>
public sealed record CatalogEntry(string Title, string Name, IReadOnlyList<string> Genres, int? Year, DateTimeOffset FirstSeen)
{
    public const string NameAttribute = "name";
    public const string GenresAttribute = "genres";
    public const string YearAttribute = "year";

    /// <summary>
    /// The entry a catalog fact carries (first seen = its event time), or null when the fact is not a
    /// catalog entry with a title. A missing or unparsable year is null; empty genre names are dropped.
    /// </summary>
    public static CatalogEntry? FromFact(Fact f)
    {
        if (f.Kind != FactKind.Catalog || string.IsNullOrEmpty(f.Title))
        {
            return null;
        }

        var attributes = f.Attributes;
        var name = attributes is not null && attributes.TryGetValue(NameAttribute, out var n) && !string.IsNullOrWhiteSpace(n) ? n : f.Title;
        string[] genres = attributes is not null && attributes.TryGetValue(GenresAttribute, out var g)
            ? g.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : [];
        int? year = attributes is not null && attributes.TryGetValue(YearAttribute, out var y)
            && int.TryParse(y, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
        return new CatalogEntry(f.Title, name, Array.AsReadOnly(genres), year, f.EventTime);
    }
}

/// <summary>Catalog lookups for the feature encoder. Implementations must be an as-of-T view (see <see cref="Catalog.Build"/>).</summary>
public interface ICatalog
{
    CatalogEntry? Find(string title);
}

/// <summary>An in-memory catalog as known at one time.</summary>
public sealed class Catalog : ICatalog
{
    private readonly Dictionary<string, CatalogEntry> entries;

    private Catalog(Dictionary<string, CatalogEntry> entries, DateTimeOffset? asOf)
    {
        this.entries = entries;
        AsOf = asOf;
    }

    /// <summary>The time the catalog was built as of (null for <see cref="FromEntries"/>).</summary>
    public DateTimeOffset? AsOf { get; }

    public int Count => entries.Count;

    public CatalogEntry? Find(string title) => entries.GetValueOrDefault(title);

    /// <summary>
    /// The catalog as known at <paramref name="asOf"/>: per title, the newest (event time, then id
    /// ordinal) catalog fact that is known at <paramref name="asOf"/> and not superseded or retracted
    /// by a fact known then; <see cref="CatalogEntry.FirstSeen"/> is the earliest event time of any
    /// catalog fact of the title known then. Other kinds of facts are ignored (retractions only hide).
    /// </summary>
    public static Catalog Build(IEnumerable<Fact> facts, DateTimeOffset asOf)
    {
        ArgumentNullException.ThrowIfNull(facts);
        HashSet<string>? superseded = null;
        var known = new List<Fact>();
        foreach (var f in facts)
        {
            if (KnownAt.Supersedes(f, asOf, out var id))
            {
                (superseded ??= new HashSet<string>(StringComparer.Ordinal)).Add(id);
            }

            if (f.Kind == FactKind.Catalog && !string.IsNullOrEmpty(f.Title) && KnownAt.IsKnown(f, asOf))
            {
                known.Add(f);
            }
        }

        var firstSeen = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        var newest = new Dictionary<string, Fact>(StringComparer.Ordinal);
        foreach (var f in known)
        {
            var title = f.Title!;
            firstSeen[title] = firstSeen.TryGetValue(title, out var seen) && seen <= f.EventTime ? seen : f.EventTime;
            if (superseded is not null && superseded.Contains(f.Id))
            {
                continue;
            }

            if (!newest.TryGetValue(title, out var current) || KnownAt.NewestFirst(f, current) < 0)
            {
                newest[title] = f;
            }
        }

        var entries = new Dictionary<string, CatalogEntry>(newest.Count, StringComparer.Ordinal);
        foreach (var (title, fact) in newest)
        {
            entries[title] = CatalogEntry.FromFact(fact)! with { FirstSeen = firstSeen[title] };
        }

        return new Catalog(entries, asOf);
    }

    /// <summary>A catalog of given entries (e.g. read from the archive's live interface as of T); titles must be distinct.</summary>
    public static Catalog FromEntries(IEnumerable<CatalogEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var map = new Dictionary<string, CatalogEntry>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (!map.TryAdd(entry.Title, entry))
            {
                throw new ArgumentException($"title '{entry.Title}' appears twice in the catalog entries", nameof(entries));
            }
        }

        return new Catalog(map, null);
    }
}
