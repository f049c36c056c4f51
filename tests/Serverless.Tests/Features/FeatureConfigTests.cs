using System.Reflection;
using System.Text.Json;
using Serverless.Features;

namespace Serverless.Tests.Features;

public sealed class FeatureConfigTests
{
    /// <summary>One changed value per field. A field missing here fails <see cref="Every_field_is_covered_by_the_hash_and_this_test"/>.</summary>
    private static readonly Dictionary<string, FeatureConfig> OneFieldChanged = new()
    {
        [nameof(FeatureConfig.Version)] = FeatureConfig.Default with { Version = 2 },
        [nameof(FeatureConfig.Genres)] = FeatureConfig.Default with { Genres = FeatureConfig.MovieLensGenres.Take(19).ToList() },
        [nameof(FeatureConfig.HistoryLimit)] = FeatureConfig.Default with { HistoryLimit = 499 },
        [nameof(FeatureConfig.RecentWindowDays)] = FeatureConfig.Default with { RecentWindowDays = 91 },
        [nameof(FeatureConfig.RecentLikes)] = FeatureConfig.Default with { RecentLikes = 21 },
        [nameof(FeatureConfig.PopularityWindowDays)] = FeatureConfig.Default with { PopularityWindowDays = 366 },
        [nameof(FeatureConfig.AffinityHalfLifeDays)] = FeatureConfig.Default with { AffinityHalfLifeDays = 180.5 },
        [nameof(FeatureConfig.LikeThreshold)] = FeatureConfig.Default with { LikeThreshold = 3.5 },
        [nameof(FeatureConfig.PriorCount)] = FeatureConfig.Default with { PriorCount = 10.000001 },
    };

    [Fact]
    public void Default_hash_is_pinned_so_it_is_stable_across_processes_and_machines()
    {
        // Changing this literal means every model and logged vector stamped with it stops matching: bump Version instead.
        Assert.Equal("dbff8df09e762c91", FeatureConfig.Default.Hash);
        Assert.Matches("^[0-9a-f]{16}$", FeatureConfig.Default.Hash);
    }

    [Fact]
    public void Canonical_json_lists_every_field_in_a_fixed_order()
    {
        Assert.Equal(
            """{"version":1,"genres":["(no genres listed)","Action","Adventure","Animation","Children","Comedy","Crime","Documentary","Drama","Fantasy","Film-Noir","Horror","IMAX","Musical","Mystery","Romance","Sci-Fi","Thriller","War","Western"],"historyLimit":500,"recentWindowDays":90,"recentLikes":20,"popularityWindowDays":365,"affinityHalfLifeDays":180,"likeThreshold":4,"priorCount":10}""",
            FeatureConfig.Default.CanonicalJson);
    }

    [Fact]
    public void The_same_config_built_twice_has_the_same_hash_and_is_equal()
    {
        var a = new FeatureConfig { HistoryLimit = 200, Genres = ["Drama", "Comedy"], LikeThreshold = 3.5 };
        var b = new FeatureConfig { LikeThreshold = 3.5, Genres = new List<string> { "Drama", "Comedy" }, HistoryLimit = 200 };

        Assert.Equal(a.Hash, b.Hash);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal(FeatureConfig.Default.Hash, new FeatureConfig().Hash);
    }

    [Fact]
    public void Changing_any_field_changes_the_hash()
    {
        var hashes = OneFieldChanged.ToDictionary(kv => kv.Key, kv => kv.Value.Hash);

        foreach (var (field, hash) in hashes)
        {
            Assert.True(hash != FeatureConfig.Default.Hash, $"changing {field} did not change the hash");
            Assert.NotEqual(FeatureConfig.Default, OneFieldChanged[field]);
        }

        Assert.Equal(hashes.Count, hashes.Values.Distinct().Count());
    }

    [Fact]
    public void Genre_order_is_part_of_the_hash()
    {
        var reversed = FeatureConfig.Default with { Genres = FeatureConfig.MovieLensGenres.Reverse().ToList() };

        Assert.NotEqual(FeatureConfig.Default.Hash, reversed.Hash);
    }

    [Fact]
    public void Every_field_is_covered_by_the_hash_and_this_test()
    {
        var fields = typeof(FeatureConfig).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.Name is not nameof(FeatureConfig.Hash) and not nameof(FeatureConfig.CanonicalJson) && p.CanWrite)
            .Select(p => p.Name)
            .Order()
            .ToList();
        using var json = JsonDocument.Parse(FeatureConfig.Default.CanonicalJson);
        var hashed = json.RootElement.EnumerateObject().Select(p => char.ToUpperInvariant(p.Name[0]) + p.Name[1..]).Order().ToList();

        Assert.Equal(fields, hashed);
        Assert.Equal(fields, OneFieldChanged.Keys.Order().ToList());
    }

    [Fact]
    public void A_config_round_trips_through_json_with_its_hash()
    {
        var config = FeatureConfig.Default with { HistoryLimit = 123, AffinityHalfLifeDays = 33.25 };

        var copy = JsonSerializer.Deserialize<FeatureConfig>(JsonSerializer.Serialize(config))!;

        Assert.Equal(config.Hash, copy.Hash);
    }

    public static TheoryData<string, Func<FeatureConfig>> Nonsense => new()
    {
        { nameof(FeatureConfig.Version), () => new FeatureConfig { Version = 0 } },
        { nameof(FeatureConfig.Genres), () => new FeatureConfig { Genres = [] } },
        { nameof(FeatureConfig.Genres), () => new FeatureConfig { Genres = null! } },
        { nameof(FeatureConfig.Genres), () => new FeatureConfig { Genres = ["Drama", "Drama"] } },
        { nameof(FeatureConfig.Genres), () => new FeatureConfig { Genres = ["Drama", " "] } },
        { nameof(FeatureConfig.Genres), () => new FeatureConfig { Genres = ["Drama|Comedy"] } },
        { nameof(FeatureConfig.Genres), () => new FeatureConfig { Genres = Enumerable.Range(0, 65).Select(i => "g" + i).ToList() } },
        { nameof(FeatureConfig.HistoryLimit), () => new FeatureConfig { HistoryLimit = 0 } },
        { nameof(FeatureConfig.HistoryLimit), () => new FeatureConfig { HistoryLimit = FeatureConfig.MaxHistoryLimit + 1 } },
        { nameof(FeatureConfig.RecentWindowDays), () => new FeatureConfig { RecentWindowDays = -1 } },
        { nameof(FeatureConfig.RecentLikes), () => new FeatureConfig { RecentLikes = 0 } },
        { nameof(FeatureConfig.PopularityWindowDays), () => new FeatureConfig { PopularityWindowDays = 0 } },
        { nameof(FeatureConfig.AffinityHalfLifeDays), () => new FeatureConfig { AffinityHalfLifeDays = 0 } },
        { nameof(FeatureConfig.AffinityHalfLifeDays), () => new FeatureConfig { AffinityHalfLifeDays = double.NaN } },
        { nameof(FeatureConfig.AffinityHalfLifeDays), () => new FeatureConfig { AffinityHalfLifeDays = double.PositiveInfinity } },
        { nameof(FeatureConfig.LikeThreshold), () => new FeatureConfig { LikeThreshold = 5.5 } },
        { nameof(FeatureConfig.LikeThreshold), () => new FeatureConfig { LikeThreshold = 0 } },
        { nameof(FeatureConfig.LikeThreshold), () => new FeatureConfig { LikeThreshold = double.NaN } },
        { nameof(FeatureConfig.PriorCount), () => new FeatureConfig { PriorCount = -1 } },
        { nameof(FeatureConfig.PriorCount), () => new FeatureConfig { PriorCount = double.PositiveInfinity } },
    };

    [Theory]
    [MemberData(nameof(Nonsense))]
    public void Nonsense_values_are_refused_with_a_message_naming_the_field(string field, Func<FeatureConfig> make)
    {
        var error = Assert.Throws<ArgumentException>(make);

        Assert.Equal(field, error.ParamName);
        Assert.Contains("FeatureConfig." + field, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Nonsense_in_json_is_refused_too()
    {
        Assert.Throws<ArgumentException>(() => JsonSerializer.Deserialize<FeatureConfig>("""{"HistoryLimit":0}"""));
    }

    [Fact]
    public void The_genre_list_cannot_be_changed_behind_the_hash()
    {
        var genres = new List<string> { "Drama", "Comedy" };
        var config = new FeatureConfig { Genres = genres };
        var hash = config.Hash;

        genres.Add("Horror");

        Assert.Equal(hash, config.Hash);
        Assert.Equal(2, config.Genres.Count);
    }
}
