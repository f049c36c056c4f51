using System.ComponentModel.DataAnnotations;
using Serverless.Archive;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Ranking;

namespace Serverless.Precompute;

/// <summary>Settings of the Hulk (configuration section "Precompute").</summary>
public sealed class PrecomputeOptions
{
    public const string Section = "Precompute";

    /// <summary>Key partitions a precompute fans out over (one activity and one blob each).</summary>
    [Range(1, 256)]
    public int Partitions { get; set; } = 8;

    /// <summary>Partitions computed at once.</summary>
    [Range(1, 64)]
    public int MaxParallel { get; set; } = 4;

    /// <summary>How often a serving instance checks whether a dataset's current version changed.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A current version whose T is older than this makes /api/health say so.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "365.00:00:00")]
    public TimeSpan MaxVersionAge { get; set; } = TimeSpan.FromDays(2);

    /// <summary>How long a replaced version is kept before cleanup may remove its files.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "365.00:00:00")]
    public TimeSpan CleanupGrace { get; set; } = TimeSpan.FromDays(7);

    public const string DefaultSchedule = "0 0 3 * * *";

    /// <summary>
    /// NCRONTAB schedule (six fields with seconds, or five without; UTC) of the timer function
    /// <c>precompute-scheduled</c>, read by the Functions host as <c>%Precompute__Schedule%</c>: cleanup,
    /// then a precompute of each scheduled dataset. Checked at start with NCrontab, as the host parses it.
    /// </summary>
    [Required]
    [Hosting.Ncrontab(ErrorMessage = "Precompute__Schedule must be an NCRONTAB schedule")]
    public string Schedule { get; set; } = DefaultSchedule;

    /// <summary>The datasets the timer precomputes, comma-separated (empty: cleanup only).</summary>
    [RegularExpression(@"^\s*$|^\s*(title-stats|similar-titles|member-top-n)\s*(,\s*(title-stats|similar-titles|member-top-n)\s*)*$",
        ErrorMessage = "Precompute__ScheduledDatasets must list datasets among title-stats, similar-titles, member-top-n, comma-separated")]
    public string ScheduledDatasets { get; set; } = string.Join(",", DerivedDatasets.All);

    /// <summary><see cref="ScheduledDatasets"/> parsed (trimmed, distinct, in the order given).</summary>
    public IReadOnlyList<string> ScheduledDatasetList() =>
        (ScheduledDatasets ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).ToList();
}

/// <summary>A lookup's answer: which source answered, from which version (and its T), and the titles.</summary>
public sealed record LookupResponse(string Key, string Source, string Dataset, string? Version, DateTimeOffset? AsOf, string? Reason, string? ModelVersion, IReadOnlyList<ScoredTitle> Items);

/// <summary>Which source answered a lookup.</summary>
public static class LookupSources
{
    public const string Precomputed = "precomputed";
    public const string GenrePopularity = "genre-popularity";
    public const string Popularity = "popularity";
    public const string RankModel = "rank-model";
    public const string RankSubstitute = "rank-substitute";
}

/// <summary>
/// Lookups of the precomputed outputs, read from the current version held in memory (one reference:
/// a lookup sees one version, never a mix) and filled where the batch has not seen the key: a title
/// new since T gets the most liked titles of its genres as of T; a member new since T gets the Rank
/// API's answer (the model, or the Substitute). Malformed ids are refused (400); unknown well-formed
/// ids get the fallback, never a 404.
/// </summary>
public sealed class PrecomputedLookups(DerivedVersionRegistry registry, DerivedDataStore store, ArchiveReader archive, RankService ranking) : IDisposable
{
    public const int MaxCount = 100;
    private readonly SemaphoreSlim refreshing = new(1, 1);
    private Loaded? similar;
    private Loaded? topN;

    private sealed record Loaded(DerivedVersion Version, Dictionary<string, PrecomputedEntry> Entries, Dictionary<string, List<ScoredTitle>> Genres);

    /// <summary>The versions loaded now (what /api/health reports with their age).</summary>
    public IReadOnlyList<DerivedVersion> LoadedVersionList =>
        new[] { Volatile.Read(ref similar)?.Version, Volatile.Read(ref topN)?.Version }.OfType<DerivedVersion>().ToList();

    /// <summary>Loads the current versions where the pointer moved. The swap is one reference per dataset.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken = default)
    {
        await refreshing.WaitAsync(cancellationToken);
        try
        {
            similar = await LoadIfChangedAsync(DerivedDatasets.SimilarTitles, similar, cancellationToken);
            topN = await LoadIfChangedAsync(DerivedDatasets.MemberTopN, topN, cancellationToken);
        }
        finally
        {
            refreshing.Release();
        }
    }

    private async Task<Loaded?> LoadIfChangedAsync(string dataset, Loaded? loaded, CancellationToken cancellationToken)
    {
        var current = await registry.CurrentAsync(dataset, cancellationToken);
        if (current is null || current.Version == loaded?.Version.Version)
        {
            return loaded;
        }

        var entries = (await store.ReadAllAsync<PrecomputedEntry>(current, cancellationToken)).ToDictionary(e => e.Key, StringComparer.Ordinal);
        var genres = dataset == DerivedDatasets.SimilarTitles
            ? await store.ReadFileAsync<Dictionary<string, List<ScoredTitle>>>(dataset, current.Version, PrecomputeWorker.GenrePopularityFile, cancellationToken) ?? []
            : [];
        return new Loaded(current, entries, genres);
    }

    private async Task<Loaded?> EnsureAsync(Func<Loaded?> read, CancellationToken cancellationToken)
    {
        if (read() is null)
        {
            await RefreshAsync(cancellationToken);
        }

        return read();
    }

    public void Dispose() => refreshing.Dispose();

    public static int ValidateCount(int? count) =>
        count is null ? 10 : count is >= 1 and <= MaxCount ? count.Value : throw new PrecomputeRefusedException(400, $"count must be 1..{MaxCount}");

    private static string ValidateKey(string field, string? id) =>
        FactValidator.KeyError(field, id, FactValidator.MaxKeyLength, required: true) is { } error ? throw new PrecomputeRefusedException(400, error) : id!;

    /// <summary>Titles similar to <paramref name="title"/>.</summary>
    public async Task<LookupResponse> SimilarAsync(string? title, int? count, CancellationToken cancellationToken = default)
    {
        var id = ValidateKey("title", title);
        var n = ValidateCount(count);
        var loaded = await EnsureAsync(() => Volatile.Read(ref similar), cancellationToken)
            ?? throw new PrecomputeRefusedException(503, $"no {DerivedDatasets.SimilarTitles} version is published yet: start one with POST /api/precompute/{DerivedDatasets.SimilarTitles}");
        var v = loaded.Version;
        if (loaded.Entries.TryGetValue(id, out var entry) && entry.Items.Count > 0)
        {
            return new LookupResponse(id, LookupSources.Precomputed, v.Dataset, v.Version, v.AsOf, null, null, entry.Items.Take(n).ToList());
        }

        // A gap: the batch has not seen this title (new since T, or without enough likes as of T).
        var catalog = await archive.CatalogEntryAsync(id, cancellationToken: cancellationToken);
        var genres = catalog is null ? [] : CatalogEntry.FromFact(catalog.Fact)?.Genres ?? [];
        var byGenre = genres.SelectMany(g => loaded.Genres.GetValueOrDefault(g) ?? []).Where(t => t.Title != id)
            .GroupBy(t => t.Title, StringComparer.Ordinal).Select(g => g.First())
            .OrderByDescending(t => t.Score).ThenBy(t => t.Title, StringComparer.Ordinal).Take(n).ToList();
        var reason = entry is not null ? "no title had enough co-likes with it as of the version's T"
            : catalog is null ? "unknown title: not in the version, not in the catalog"
            : "title not in the version (new since its T)";
        if (byGenre.Count > 0)
        {
            return new LookupResponse(id, LookupSources.GenrePopularity, v.Dataset, v.Version, v.AsOf, reason + $"; most liked titles of its genres ({string.Join("|", genres)}) as of T", null, byGenre);
        }

        var popular = (loaded.Genres.GetValueOrDefault(PrecomputeWorker.AllGenres) ?? []).Where(t => t.Title != id).Take(n).ToList();
        return new LookupResponse(id, LookupSources.Popularity, v.Dataset, v.Version, v.AsOf, reason + "; most liked titles as of T", null, popular);
    }

    /// <summary>Recommendations for <paramref name="member"/>.</summary>
    public async Task<LookupResponse> RecommendationsAsync(string? member, int? count, CancellationToken cancellationToken = default)
    {
        var id = ValidateKey("member", member);
        var n = ValidateCount(count);
        var loaded = await EnsureAsync(() => Volatile.Read(ref topN), cancellationToken);
        if (loaded is not null && loaded.Entries.TryGetValue(id, out var entry) && entry.Items.Count > 0)
        {
            var v = loaded.Version;
            var model = v.Inputs.FirstOrDefault(i => i.StartsWith(PrecomputeInputs.ModelPrefix, StringComparison.Ordinal))?[PrecomputeInputs.ModelPrefix.Length..];
            return new LookupResponse(id, LookupSources.Precomputed, v.Dataset, v.Version, v.AsOf, null, model, entry.Items.Take(n).ToList());
        }

        // A gap: a member new since T (or no version yet) gets the Rank API's answer, model or Substitute.
        RankResponse ranked;
        try
        {
            ranked = await ranking.RankAsync(new RankRequest(id, null, n, null), cancellationToken);
        }
        catch (RankRefusedException ex)
        {
            throw new PrecomputeRefusedException(ex.Status, "member not in the precomputed top-N and the Rank API cannot answer: " + ex.Message);
        }

        var reason = loaded is null ? $"no {DerivedDatasets.MemberTopN} version is published yet" : "member not in the version (new since its T)";
        return new LookupResponse(id, ranked.Fallback ? LookupSources.RankSubstitute : LookupSources.RankModel, DerivedDatasets.MemberTopN,
            loaded?.Version.Version, loaded?.Version.AsOf, ranked.Fallback ? $"{reason}; the Substitute answered: {ranked.FallbackReason}" : reason, ranked.ModelVersion,
            ranked.Items.Select(i => new ScoredTitle(i.Title, i.Score)).ToList());
    }
}

/// <summary>The inputs a version names.</summary>
public static class PrecomputeInputs
{
    public const string SnapshotPrefix = "snapshot:";
    public const string ModelPrefix = "model:";
}
