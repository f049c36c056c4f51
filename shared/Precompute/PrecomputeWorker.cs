using Serverless.Facts;
using Serverless.Features;
using Serverless.Models;
using Serverless.Ranking;
using Serverless.Sentinel;
using Serverless.TimeMachine;
using Serverless.Training;

namespace Serverless.Precompute;

/// <summary>What a precompute reads: every fact known at T, with what is derived from it once per process.</summary>
public sealed class PrecomputeContext
{
    private readonly Lazy<LikeIndex> likes;

    public PrecomputeContext(IReadOnlyList<Fact> facts, DateTimeOffset asOf, FeatureConfig config, string snapshot)
    {
        ArgumentNullException.ThrowIfNull(facts);
        ArgumentNullException.ThrowIfNull(config);
        AsOf = asOf;
        Snapshot = snapshot;
        Ratings = KnownRatings.Current(facts, asOf);
        Catalog = Catalog.Build(facts, asOf);
        Stats = TitleStatsSnapshot.Build(facts.Where(f => f.Kind == FactKind.Rating), asOf, config);
        Popular = ServingData.MostPopular(Stats, ServingData.PopularPoolSize);
        Histories = Ratings.GroupBy(r => r.Member!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => (IReadOnlyList<Fact>)g.ToList(), StringComparer.Ordinal);
        likes = new Lazy<LikeIndex>(() => LikeIndex.Build(Ratings, config.LikeThreshold));
    }

    public DateTimeOffset AsOf { get; }
    public string Snapshot { get; }
    public List<Fact> Ratings { get; }
    public Catalog Catalog { get; }
    public TitleStatsSnapshot Stats { get; }
    public IReadOnlyList<string> Popular { get; }
    public Dictionary<string, IReadOnlyList<Fact>> Histories { get; }
    public LikeIndex Likes => likes.Value;
}

/// <summary>
/// Computes one key partition of one dataset version and writes it as one blob. Activities retry a
/// partition, so a partition is a pure function of (snapshot, T, partition) and its blob is simply
/// overwritten. The facts of a snapshot are loaded once per process and shared by its partitions.
/// </summary>
public sealed class PrecomputeWorker(FactSnapshotStore snapshots, DerivedDataStore store, ModelStore models, FeatureEncoder encoder) : IDisposable
{
    public const string GenrePopularityFile = "genre-popularity";

    /// <summary>The key of overall popularity in the genre-popularity file.</summary>
    public const string AllGenres = "*";

    private readonly SemaphoreSlim loading = new(1, 1);
    private PrecomputeContext? context;
    private (string Version, ModelScorer? Scorer, string? Refusal)? scorer;

    /// <summary>The facts of <paramref name="snapshot"/> as of <paramref name="asOf"/> (cached: the last one asked for).</summary>
    public async Task<PrecomputeContext> ContextAsync(string snapshot, DateTimeOffset asOf, CancellationToken cancellationToken)
    {
        await loading.WaitAsync(cancellationToken);
        try
        {
            if (context is { } c && c.Snapshot == snapshot && c.AsOf == asOf)
            {
                return c;
            }

            var facts = await snapshots.LoadAsync(snapshot, cancellationToken);
            return context = new PrecomputeContext(facts, asOf, encoder.Config, snapshot);
        }
        finally
        {
            loading.Release();
        }
    }

    /// <summary>Computes and writes one partition; returns how many keys (and items) it wrote.</summary>
    public async Task<PartitionCounts> ComputeAsync(PartitionWork work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        var ctx = await ContextAsync(work.Snapshot, work.AsOf, cancellationToken);
        bool Mine(string key) => DerivedDatasets.PartitionOf(key, work.Partitions) == work.Partition;
        switch (work.Dataset)
        {
            case DerivedDatasets.TitleStats:
                var stats = ctx.Stats.Titles.Where(kv => Mine(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal)
                    .Select(kv => new TitleStatsEntry(kv.Key, kv.Value.RatingCount, kv.Value.RatingSum, kv.Value.LikeCount, kv.Value.RecentCount, kv.Value.LastRatedAt))
                    .ToList();
                await store.WritePartAsync(work.Dataset, work.Version, work.Partition, stats, cancellationToken);
                return new PartitionCounts(stats.Count, stats.Sum(s => (long)s.RatingCount));

            case DerivedDatasets.SimilarTitles:
                var index = ctx.Likes;
                var similar = SimilarTitles.TopK(index, Enumerable.Range(0, index.Titles.Length).Where(i => Mine(index.Titles[i])), work.Size);
                await store.WritePartAsync(work.Dataset, work.Version, work.Partition, similar, cancellationToken);
                if (work.Partition == 0)
                {
                    await store.WriteFileAsync(work.Dataset, work.Version, GenrePopularityFile, GenrePopularity(ctx, work.Size), cancellationToken);
                }

                return new PartitionCounts(similar.Count, similar.Sum(s => (long)s.Items.Count));

            case DerivedDatasets.MemberTopN:
                var model = work.Model ?? throw new InvalidOperationException("a member top-N precompute needs the live model's version");
                var entries = TopN(ctx, await ScorerAsync(model, cancellationToken), ctx.Histories.Keys.Where(Mine).Order(StringComparer.Ordinal), work.Size);
                await store.WritePartAsync(work.Dataset, work.Version, work.Partition, entries, cancellationToken);
                return new PartitionCounts(entries.Count, entries.Sum(s => (long)s.Items.Count));

            default:
                throw new PrecomputeRefusedException(400, $"unknown dataset '{work.Dataset}'");
        }
    }

    /// <summary>
    /// Top-N per member, as the Rank API would answer at T: the member's ratings as of T, the catalog
    /// and title statistics as of T, the shared encoder, the popular titles the member has not rated
    /// (the Rank API's default pool), best score first, ties by title.
    /// </summary>
    public List<PrecomputedEntry> TopN(PrecomputeContext ctx, ModelScorer model, IEnumerable<string> members, int n)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(model);
        var result = new List<PrecomputedEntry>();
        var width = encoder.Count;
        foreach (var member in members)
        {
            var history = ctx.Histories.GetValueOrDefault(member) ?? [];
            var rated = history.Select(h => h.Title).ToHashSet(StringComparer.Ordinal);
            var candidates = ctx.Popular.Where(t => !rated.Contains(t)).Take(RankService.DefaultPool).ToArray();
            if (candidates.Length == 0)
            {
                result.Add(new PrecomputedEntry(member, []));
                continue;
            }

            var profile = encoder.Profile(new MemberHistory(member, history), ctx.AsOf, ctx.Catalog, ctx.Stats);
            var rows = new float[candidates.Length * width];
            for (var i = 0; i < candidates.Length; i++)
            {
                encoder.Encode(profile, candidates[i], rows.AsSpan(i * width, width));
            }

            var scores = new float[candidates.Length];
            model.ScoreBatch(rows, scores);
            var items = Enumerable.Range(0, candidates.Length)
                .OrderByDescending(i => scores[i]).ThenBy(i => candidates[i], StringComparer.Ordinal)
                .Take(n).Select(i => new ScoredTitle(candidates[i], scores[i])).ToList();
            result.Add(new PrecomputedEntry(member, items));
        }

        return result;
    }

    /// <summary>Per genre (and <see cref="AllGenres"/>), the most liked titles as of T: the fallback for titles new since T.</summary>
    public static Dictionary<string, List<ScoredTitle>> GenrePopularity(PrecomputeContext ctx, int k)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var ranked = ctx.Stats.Titles.OrderByDescending(kv => kv.Value.LikeCount).ThenBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var result = new Dictionary<string, List<ScoredTitle>>(StringComparer.Ordinal) { [AllGenres] = [] };
        foreach (var (title, stats) in ranked)
        {
            var genres = ctx.Catalog.Find(title)?.Genres ?? [];
            foreach (var genre in genres.Append(AllGenres))
            {
                if (!result.TryGetValue(genre, out var list))
                {
                    result[genre] = list = [];
                }

                if (list.Count < k)
                {
                    list.Add(new ScoredTitle(title, stats.LikeCount));
                }
            }
        }

        return result;
    }

    public void Dispose() => loading.Dispose();

    /// <summary>
    /// The live model's scorer, loaded once per version, after the checks a serving loader runs on
    /// what it serves: the feature config hash, and the golden probes recomputed with this worker's
    /// encoder and the model (the member top-N is served as the Rank API's answer, so a changed encoder
    /// must not write it). A refusal is remembered: the partition's retries fail at once.
    /// </summary>
    private async Task<ModelScorer> ScorerAsync(string version, CancellationToken cancellationToken)
    {
        await loading.WaitAsync(cancellationToken);
        try
        {
            if (scorer is { } s && s.Version == version)
            {
                return s.Scorer ?? throw new ModelRefusedException(s.Refusal!);
            }

            var model = await models.LoadAsync(version, cancellationToken);
            var refusal = model.Manifest.FeatureConfigHash != encoder.ConfigHash
                ? $"model {version} was trained with feature config {model.Manifest.FeatureConfigHash}, the encoder is {encoder.ConfigHash}"
                : null;
            var created = new ModelScorer(model);
            if (refusal is null)
            {
                try
                {
                    var check = await GoldenProbeCheckAsync(model.Manifest, created, cancellationToken);
                    refusal = check.Passed ? null : $"model {version} refused by the {check.Name} check: {check.Measured}";
                }
                catch
                {
                    // A storage fault or cancellation while checking: nothing keeps the model, so free it before the retry reloads it.
                    created.Dispose();
                    model.Dispose();
                    throw;
                }
            }

            if (refusal is not null)
            {
                created.Dispose();
                model.Dispose();
                scorer = (version, null, refusal);
                throw new ModelRefusedException(refusal);
            }

            // The previous scorer is left to the collector: a partition of another run may still be scoring with it.
            scorer = (version, created, null);
            return created;
        }
        finally
        {
            loading.Release();
        }
    }

    /// <summary>The serving loader's golden-probe check, on the model's own snapshot (loaded only when the manifest carries probes).</summary>
    private async Task<SentinelCheck> GoldenProbeCheckAsync(ModelManifest manifest, ModelScorer model, CancellationToken cancellationToken)
    {
        List<Fact>? facts = null;
        ServingData? data = null;
        if (manifest.GoldenProbes is { Probes.Count: > 0 } && TrainingJob.SnapshotOf(manifest) is { } snapshot && await snapshots.ExistsAsync(snapshot, cancellationToken))
        {
            facts = await snapshots.LoadAsync(snapshot, cancellationToken);
            data = ServingData.FromSnapshot(facts, snapshot, encoder.Config);
        }

        return GoldenProbes.Check(manifest, data, encoder, model, facts);
    }
}

/// <summary>A model the precompute will not score with (another feature config, or golden probes this code does not reproduce).</summary>
public sealed class ModelRefusedException(string message) : InvalidOperationException(message);

/// <summary>One partition to compute: the dataset version, where its facts are, which keys, how many items per key.</summary>
public sealed record PartitionWork(string Dataset, string Version, string Snapshot, DateTimeOffset AsOf, int Partition, int Partitions, int Size, string? Model);

/// <summary>What one partition wrote.</summary>
public sealed record PartitionCounts(long Keys, long Items);
