using System.Text.Json;
using System.Text.Json.Nodes;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Models;
using Serverless.Ranking;
using Serverless.Sentinel;
using Serverless.Tests.Features;
using Serverless.Tests.Models;
using Serverless.Training;

namespace Serverless.Tests.Sentinel;

/// <summary>
/// MovieLens as a fact snapshot at the 80% point, with a few facts MovieLens lacks (ratings of a title
/// the catalog does not know, a late-ingested rating, a retraction), a 17-feature model, and the
/// golden probes the training job would record for it, built once.
/// </summary>
public sealed class GoldenProbeWorld
{
    public const string StatsOnlyTitle = "gp-no-catalog";

    public GoldenProbeWorld()
    {
        var movieLens = new MovieLensWorld();
        Watermark = movieLens.Watermark;
        Snapshot = $"facts-{Watermark.UtcTicks:D19}-golden.jsonl.gz";
        var known = movieLens.Facts.Where(f => KnownAt.IsKnown(f, Watermark)).ToList();
        var members = known.Where(f => f.Member is not null).Select(f => f.Member!).Distinct().Order(StringComparer.Ordinal).Take(40).ToList();
        var early = known.Where(f => f.Kind == FactKind.Rating).Min(f => f.EventTime);
        for (var i = 0; i < members.Count; i++)
        {
            known.Add(F.Rating(members[i], StatsOnlyTitle, 1 + (i % 5), Watermark.AddDays(-10 - i), id: $"rating:{members[i]}:{StatsOnlyTitle}"));
        }

        // A member whose history says what "as of its time" means: a rating learned a year late, and a retraction.
        for (var i = 0; i < 12; i++)
        {
            known.Add(F.Rating("gp-late", (1 + i).ToString(System.Globalization.CultureInfo.InvariantCulture), 4, early.AddDays(30 * i), id: $"rating:gp-late:{i}"));
        }

        known.Add(F.Rating("gp-late", "50", 5, early.AddDays(5), ingestTime: Watermark.AddDays(-1), id: "rating:gp-late:late"));
        known.Add(F.Retraction("gp-late", "rating:gp-late:3", early.AddDays(200)));
        Facts = known;
        Data = ServingData.FromSnapshot(Facts, Snapshot, Encoder.Config);
        Model = TrainModel(Encoder, "golden-model", Snapshot);
        using var scorer = new ModelScorer(Model);
        Set = GoldenProbes.Build(Facts, Data, Encoder, scorer);
        Manifest = Model.Manifest with { GoldenProbes = Set };
    }

    public FeatureEncoder Encoder { get; } = new(FeatureConfig.Default);
    public DateTimeOffset Watermark { get; }
    public string Snapshot { get; }
    public List<Fact> Facts { get; }
    public ServingData Data { get; }
    public TrainedModel Model { get; }
    public GoldenProbeSet Set { get; }
    public ModelManifest Manifest { get; }

    /// <summary>A quick model of the encoder's width (synthetic examples, the rest of the features noise) that depends on <paramref name="snapshot"/>.</summary>
    public static TrainedModel TrainModel(FeatureEncoder encoder, string version, string snapshot)
    {
        var random = new Random(3);
        List<TrainingExample> Wide(List<TrainingExample> examples) =>
            examples.Select(e => e with { Features = e.Features.Concat(Enumerable.Range(0, encoder.Count - e.Features.Length).Select(_ => (float)random.NextDouble())).ToArray() }).ToList();
        return ModelTrainer.Train(SyntheticData.Request(TrainerKind.LogisticRegression, version, encoder.Names, encoder.ConfigHash) with
        {
            Train = Wide(SyntheticData.Examples(4000, 1)),
            Validation = Wide(SyntheticData.Examples(1000, 2)),
            Lineage = [snapshot],
            Dependencies = [TrainingJob.SnapshotDependency(snapshot)],
        });
    }
}

public sealed class GoldenProbesTests(GoldenProbeWorld world) : IClassFixture<GoldenProbeWorld>
{
    private static readonly JsonSerializerOptions Plain = new(JsonSerializerDefaults.Web);

    [Fact]
    public void About_300_contexts_cover_cold_light_and_heavy_histories_at_several_times_each_as_of_its_own_time()
    {
        var set = world.Set;
        var limit = world.Encoder.Config.HistoryLimit;
        Assert.Equal(GoldenProbes.DefaultContexts, set.Contexts.Count);
        Assert.Equal(world.Snapshot, set.Snapshot);

        int Ratings(ProbeContext c) => c.Facts.Count(f => f.Kind == FactKind.Rating);
        Assert.Contains(set.Contexts, c => c.Facts.Count == 0 && !c.Member.StartsWith(GoldenProbes.NewMemberPrefix, StringComparison.Ordinal));   // no history yet at its time
        Assert.Contains(set.Contexts, c => c.Member.StartsWith(GoldenProbes.NewMemberPrefix, StringComparison.Ordinal));                          // a member never seen
        Assert.True(set.Contexts.Count(c => Ratings(c) is >= 1 and <= 20) >= 30, "light histories");
        Assert.True(set.Contexts.Count(c => Ratings(c) is > 20 and <= 100) >= 30, "medium histories");
        Assert.True(set.Contexts.Count(c => Ratings(c) > 100) >= 10, "heavy histories");
        Assert.Contains(set.Contexts, c => Ratings(c) > limit);   // beyond the history limit: the limit itself is exercised
        Assert.All(set.Contexts, c => Assert.True(Ratings(c) <= limit + GoldenProbes.BeyondHistoryLimit));

        // Several times within the snapshot (catalog and statistics as of then), and served later with the watermark's data.
        var within = set.Contexts.Where(c => c.AsOf <= world.Watermark).Select(c => c.AsOf).Distinct().ToList();
        Assert.True(within.Count >= 3, $"{within.Count} times within the snapshot");
        Assert.All(set.Contexts.Where(c => c.AsOf <= world.Watermark), c => Assert.Equal(c.AsOf, c.DataAsOf));
        Assert.Contains(set.Contexts, c => c.AsOf > world.Watermark && c.DataAsOf == world.Watermark);

        // As of its time: every fact the system knew then, nothing it learned after.
        foreach (var context in set.Contexts.Where(c => !c.Member.StartsWith(GoldenProbes.NewMemberPrefix, StringComparison.Ordinal)))
        {
            Assert.All(context.Facts, f => Assert.True(f.IngestTime <= context.AsOf && f.Member == context.Member, $"{f.Id} in {context.Member}@{context.AsOf:O}"));
            var knownThen = world.Facts.Where(f => f.Member == context.Member && f.IngestTime <= context.AsOf && f.EventTime <= context.AsOf).ToList();
            if (knownThen.Count(f => f.Kind == FactKind.Rating) <= limit)
            {
                Assert.Equal(knownThen.Select(f => f.Id).Order(StringComparer.Ordinal), context.Facts.Select(f => f.Id).Order(StringComparer.Ordinal));
            }
        }

        // Titles: popular ones, the long tail, unknown to the catalog and statistics, in the catalog without ratings, rated without a catalog entry.
        var titles = set.Probes.Select(p => p.Title).ToHashSet(StringComparer.Ordinal);
        Assert.True(titles.Count >= 200, $"{titles.Count} distinct titles");
        Assert.Contains(GoldenProbes.UnknownTitle, titles);
        Assert.Contains(GoldenProbeWorld.StatsOnlyTitle, titles);
        Assert.Contains(set.Probes, p => world.Data.Catalog.Find(p.Title) is not null && world.Data.Stats.Find(p.Title) is null && set.Contexts[p.Context].DataAsOf == world.Watermark);
        Assert.Contains(world.Data.Popular[0], titles);
        Assert.InRange(set.Probes.Count, set.Contexts.Count * 4, set.Contexts.Count * GoldenProbes.TitlesPerContext);
        Assert.True(set.Probes.Select(p => p.Score).Distinct().Count() > 100, "scores vary");
    }

    [Fact]
    public void The_choice_is_deterministic_for_a_seed_and_another_seed_chooses_otherwise()
    {
        using var scorer = new ModelScorer(world.Model);
        var again = GoldenProbes.Build(world.Facts, world.Data, world.Encoder, scorer);
        var other = GoldenProbes.Build(world.Facts, world.Data, world.Encoder, scorer, seed: GoldenProbes.DefaultSeed + 1);

        Assert.Equal(JsonSerializer.Serialize(world.Set, Plain), JsonSerializer.Serialize(again, Plain));
        Assert.NotEqual(world.Set.Contexts.Select(c => c.Member), other.Contexts.Select(c => c.Member));
    }

    [Fact]
    public void The_manifest_carries_the_probes_compressed_and_they_come_back_bit_for_bit_and_in_sync()
    {
        var json = ModelJson.Serialize(world.Manifest);
        var node = JsonNode.Parse(json)!["goldenProbes"]!;
        Assert.Equal(GoldenProbeSetJsonConverter.Format, (string?)node["format"]);
        Assert.Equal(world.Set.Contexts.Count, (int)node["contexts"]!);
        Assert.Equal(world.Set.Probes.Count, (int)node["probes"]!);
        Assert.True(json.Length < 1_000_000, $"manifest of {json.Length} characters");

        var back = ModelJson.Deserialize(System.Text.Encoding.UTF8.GetBytes(json));
        Assert.Equal(JsonSerializer.Serialize(world.Set, Plain), JsonSerializer.Serialize(back.GoldenProbes, Plain));
        Assert.Equal(world.Set.Contexts.SelectMany(c => c.Facts), back.GoldenProbes!.Contexts.SelectMany(c => c.Facts), new FactComparer());
        using var scorer = new ModelScorer(world.Model);
        var check = GoldenProbes.Check(back, world.Data, world.Encoder, scorer, world.Facts);
        Assert.True(check.Passed, check.Measured);
        Assert.Equal($"{world.Set.Probes.Count} probes over {world.Set.Contexts.Count} contexts identical", check.Measured);
    }

    [Fact]
    public void Probes_written_before_as_a_plain_object_with_facts_as_objects_still_read()
    {
        var context = world.Set.Contexts.First(c => c.Facts.Count > 0 && c.DataAsOf == world.Watermark);
        var index = world.Set.Contexts.ToList().IndexOf(context);
        var probes = world.Set.Probes.Where(p => p.Context == index).Select(p => p with { Context = 0 }).ToList();
        var old = new JsonObject
        {
            ["snapshot"] = world.Snapshot,
            ["contexts"] = new JsonArray(new JsonObject
            {
                ["member"] = context.Member,
                ["asOf"] = context.AsOf.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                ["facts"] = JsonSerializer.SerializeToNode(context.Facts.Select(f => f).ToArray(), ModelJson.Options),
            }),
            ["probes"] = JsonSerializer.SerializeToNode(probes, ModelJson.Options),
        };
        Assert.Equal(JsonValueKind.Object, JsonSerializer.SerializeToElement(context.Facts[0], ModelJson.Options).ValueKind);
        var manifest = JsonNode.Parse(ModelJson.Serialize(world.Manifest with { GoldenProbes = null }))!.AsObject();
        manifest["goldenProbes"] = old;

        var back = ModelJson.Deserialize(System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString()));

        Assert.Null(back.GoldenProbes!.Contexts[0].DataAsOf);
        Assert.Equal(context.Facts, back.GoldenProbes.Contexts[0].Facts, new FactComparer());
        using var scorer = new ModelScorer(world.Model);
        var check = GoldenProbes.Check(back, world.Data, world.Encoder, scorer);
        Assert.True(check.Passed, check.Measured);
    }

    [Fact]
    public void Contexts_within_the_snapshot_are_recomputed_on_its_data_as_of_their_time_which_needs_its_facts()
    {
        using var scorer = new ModelScorer(world.Model);

        // Without the snapshot's facts the catalog and statistics as of an earlier time cannot be rebuilt: refused, not skipped.
        var noFacts = GoldenProbes.Check(world.Manifest, world.Data, world.Encoder, scorer);
        Assert.False(noFacts.Passed);
        Assert.Contains("needs the snapshot's facts", noFacts.Measured, StringComparison.Ordinal);

        // Data of another snapshot: not comparable, refused.
        var other = ServingData.Build(world.Facts, world.Watermark, world.Encoder.Config, "facts-0000000000000000001-other.jsonl.gz");
        var mismatch = GoldenProbes.Check(world.Manifest, other, world.Encoder, scorer, world.Facts);
        Assert.False(mismatch.Passed);
        Assert.Contains("made with snapshot", mismatch.Measured, StringComparison.Ordinal);

        // Read at the watermark instead of their own time, earlier contexts' title statistics move.
        var earliest = world.Set.Contexts.Min(c => c.AsOf);
        var moved = world.Set with
        {
            Contexts = world.Set.Contexts.Select(c => c.AsOf == earliest ? c with { AsOf = world.Watermark, DataAsOf = world.Watermark } : c).ToList(),
        };
        var check = GoldenProbes.Check(world.Manifest with { GoldenProbes = moved }, world.Data, world.Encoder, scorer, world.Facts);
        Assert.False(check.Passed);
        Assert.Contains(FeatureNames.TitlePopularity, check.Measured, StringComparison.Ordinal);
        Assert.Contains("features moved: ", check.Measured, StringComparison.Ordinal);
    }

    private sealed class FactComparer : IEqualityComparer<Fact>
    {
        public bool Equals(Fact? x, Fact? y) =>
            x is not null && y is not null && x.Id == y.Id && x.Kind == y.Kind && x.Member == y.Member && x.Title == y.Title && x.Value == y.Value
            && x.EventTime.UtcTicks == y.EventTime.UtcTicks && x.IngestTime.UtcTicks == y.IngestTime.UtcTicks && x.Supersedes == y.Supersedes
            && (x.Attributes ?? new Dictionary<string, string>()).OrderBy(kv => kv.Key, StringComparer.Ordinal).SequenceEqual((y.Attributes ?? new Dictionary<string, string>()).OrderBy(kv => kv.Key, StringComparer.Ordinal));

        public int GetHashCode(Fact obj) => obj.Id.GetHashCode(StringComparison.Ordinal);
    }
}
