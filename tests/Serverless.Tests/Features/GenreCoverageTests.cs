using Serverless.Facts;
using Serverless.Features;

namespace Serverless.Tests.Features;

/// <summary>Genres outside the feature config are reported with names and counts (issue 10, item 10).</summary>
public sealed class GenreCoverageTests
{
    private static readonly DateTimeOffset T = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static Fact Catalog(string title, string genres, DateTimeOffset? at = null) =>
        new($"catalog:{title}:{at?.Ticks ?? 0}", FactKind.Catalog, null, title, null, at ?? T, at ?? T, null,
            new Dictionary<string, string> { ["name"] = $"Title {title}", ["genres"] = genres });

    [Fact]
    public void Another_releases_spellings_are_reported_by_name_with_their_title_counts()
    {
        Fact[] facts =
        [
            Catalog("1", "Children's|Comedy"),
            Catalog("2", "Children's|Animation"),
            Catalog("2", "Children's|Animation", T.AddDays(1)),   // a second version of title 2: still one title
            Catalog("3", "unknown"),
            Catalog("4", "Drama"),
            new("rating:1:1", FactKind.Rating, "1", "1", 4, T, T),
        ];

        var unknown = GenreCoverage.Unknown(facts, new FeatureConfig());

        Assert.Equal([new UnknownGenre("Children's", 2), new UnknownGenre("unknown", 1)], unknown);
        Assert.Equal("2 genres: 'Children's' (2 titles), 'unknown' (1 title)", GenreCoverage.Describe(unknown));
    }

    [Fact]
    public void A_catalog_within_the_config_reports_nothing()
    {
        Assert.Empty(GenreCoverage.Unknown([Catalog("1", "Children|Comedy"), Catalog("2", "(no genres listed)")], new FeatureConfig()));
    }
}
