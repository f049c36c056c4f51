using Serverless.Facts;
using Serverless.Features;

namespace Serverless.Ranking;

/// <summary>
/// What the encoder needs besides a member's history, computed from one fact snapshot at a
/// watermark: the catalog, title statistics and the most popular titles (the default candidate
/// pool and the fallback ranking).
/// </summary>
public sealed class ServingData
{
    public const int PopularPoolSize = 500;

    private ServingData(Catalog catalog, TitleStatsSnapshot stats, IReadOnlyList<string> popular, string snapshot)
    {
        Catalog = catalog;
        Stats = stats;
        Popular = popular;
        Snapshot = snapshot;
    }

    public Catalog Catalog { get; }
    public TitleStatsSnapshot Stats { get; }
    public DateTimeOffset Watermark => Stats.Watermark;

    /// <summary>Titles by popularity (rating count as of the watermark, then id), most popular first.</summary>
    public IReadOnlyList<string> Popular { get; }

    /// <summary>The snapshot it was built from.</summary>
    public string Snapshot { get; }

    public static ServingData Build(IReadOnlyList<Fact> facts, DateTimeOffset watermark, FeatureConfig config, string snapshot)
    {
        var catalog = Catalog.Build(facts, watermark);
        var stats = TitleStatsSnapshot.Build(facts.Where(f => f.Kind == FactKind.Rating), watermark, config);
        return new ServingData(catalog, stats, MostPopular(stats, PopularPoolSize), snapshot);
    }

    /// <summary>The serving data of a fact snapshot (its facts, as of the watermark in its name).</summary>
    public static ServingData FromSnapshot(IReadOnlyList<Fact> facts, string snapshot, FeatureConfig config) =>
        Build(facts, Training.TrainingJob.WatermarkOf(snapshot), config, snapshot);

    /// <summary>The <paramref name="count"/> most rated titles as of the snapshot's watermark (ties by id).</summary>
    public static List<string> MostPopular(TitleStatsSnapshot stats, int count) =>
        stats.Titles.OrderByDescending(kv => kv.Value.RatingCount).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(count).Select(kv => kv.Key).ToList();
}
