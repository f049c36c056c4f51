using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Features;

namespace Serverless.Precompute;

/// <summary>A title-stats version loaded for the encoder.</summary>
public sealed record LoadedTitleStats(DerivedVersion Version, TitleStatsSnapshot Stats);

/// <summary>
/// The title statistics as a versioned, time-indexed dataset, read the same way by serving and by
/// training. Serving reads the current version; training by time travel reads, at each cutoff C, the
/// version that was current at C (<see cref="TimelineAsync"/>). The fallback rule, for a cutoff when
/// no version was current yet (or its files are gone, or it was built with another feature config):
/// the statistics are recomputed from the facts known at C, i.e. what a version computed at C would
/// hold, and the training set says so.
/// </summary>
public sealed class TitleStatsVersions(DerivedVersionRegistry registry, DerivedDataStore store, FeatureEncoder encoder)
{
    /// <summary>Loads a version's statistics (all partitions).</summary>
    public async Task<TitleStatsSnapshot> LoadAsync(DerivedVersion version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(version);
        var entries = await store.ReadAllAsync<TitleStatsEntry>(version, cancellationToken);
        return TitleStatsSnapshot.Restore(version.AsOf, PrecomputeCode.ConfigHashOf(version.CodeHash),
            entries.Select(e => KeyValuePair.Create(e.Title, TitleStats.Restore(e.RatingCount, e.RatingSum, e.LikeCount, e.RecentCount, e.LastRatedAt))));
    }

    /// <summary>The current version, loaded; null when none is published or it was built with another feature config.</summary>
    public async Task<LoadedTitleStats?> CurrentAsync(CancellationToken cancellationToken = default)
    {
        var current = await registry.CurrentAsync(DerivedDatasets.TitleStats, cancellationToken);
        return current is null || PrecomputeCode.ConfigHashOf(current.CodeHash) != encoder.ConfigHash
            ? null
            : new LoadedTitleStats(current, await LoadAsync(current, cancellationToken));
    }

    /// <summary>
    /// The versions serving read for requests at <paramref name="requestTimes"/>: at each, the version
    /// current then, built with this feature config and as of no later than the request (what serving's
    /// <see cref="ServingTitleStats.For"/> takes, and the skew meter assumes); a request with none read the
    /// model's snapshot statistics. Split into those still available (published, files there) and those
    /// removed or unreadable since. Nothing is loaded.
    /// </summary>
    public async Task<(IReadOnlyList<DerivedVersion> Available, IReadOnlyList<DerivedVersion> Gone)> ServedAtAsync(IEnumerable<DateTimeOffset> requestTimes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requestTimes);
        var versions = await registry.ListAsync(DerivedDatasets.TitleStats, cancellationToken);
        var served = new Dictionary<string, DerivedVersion>(StringComparer.Ordinal);
        foreach (var at in requestTimes.Distinct())
        {
            if (DerivedVersion.CurrentAt(versions, at) is { } version && version.AsOf <= at && PrecomputeCode.ConfigHashOf(version.CodeHash) == encoder.ConfigHash)
            {
                served.TryAdd(version.Version, version);
            }
        }

        var available = new List<DerivedVersion>();
        var gone = new List<DerivedVersion>();
        foreach (var version in served.Values.OrderBy(v => v.PublishedAt).ThenBy(v => v.Version, StringComparer.Ordinal))
        {
            var there = version.Status == DerivedVersionStatus.Published && await store.ExistsAsync(version.Dataset, version.Version, cancellationToken);
            (there ? available : gone).Add(version);
        }

        return (available, gone);
    }

    /// <summary>The versions current at each of <paramref name="cutoffs"/>, loaded once each.</summary>
    public async Task<TitleStatsTimeline> TimelineAsync(IEnumerable<DateTimeOffset> cutoffs, CancellationToken cancellationToken = default)
    {
        var versions = await registry.ListAsync(DerivedDatasets.TitleStats, cancellationToken);
        var loaded = new Dictionary<string, LoadedTitleStats?>(StringComparer.Ordinal);
        var at = new Dictionary<DateTimeOffset, LoadedTitleStats>();
        foreach (var cutoff in cutoffs.Distinct())
        {
            var version = DerivedVersion.CurrentAt(versions, cutoff);
            if (version is null || version.AsOf > cutoff || version.Status != DerivedVersionStatus.Published || PrecomputeCode.ConfigHashOf(version.CodeHash) != encoder.ConfigHash)
            {
                continue;
            }

            if (!loaded.TryGetValue(version.Version, out var stats))
            {
                try
                {
                    stats = new LoadedTitleStats(version, await LoadAsync(version, cancellationToken));
                }
                catch (InvalidDataException)
                {
                    stats = null; // files removed: the fallback rule applies
                }

                loaded[version.Version] = stats;
            }

            if (stats is not null)
            {
                at[cutoff] = stats;
            }
        }

        return new TitleStatsTimeline(at);
    }
}

/// <summary>The title-stats version current at each training cutoff (missing: the fallback rule recomputes at the cutoff).</summary>
public sealed class TitleStatsTimeline(IReadOnlyDictionary<DateTimeOffset, LoadedTitleStats> at)
{
    public static TitleStatsTimeline None { get; } = new(new Dictionary<DateTimeOffset, LoadedTitleStats>());

    /// <summary>The version current at <paramref name="cutoff"/>, or null (then: recompute as of the cutoff).</summary>
    public LoadedTitleStats? At(DateTimeOffset cutoff) => at.GetValueOrDefault(cutoff);
}

/// <summary>The code identity stamped on every version: this code's version plus the feature config hash it read with.</summary>
public static class PrecomputeCode
{
    /// <summary>Bump when a dataset's computation changes meaning.</summary>
    public const string Version = "hulk-1";

    public static string Hash(string configHash) => $"{Version}+{configHash}";

    public static string ConfigHashOf(string codeHash) => codeHash.Split('+')[^1];
}

/// <summary>
/// Serving's current title statistics: the current version, re-read when the pointer moves (checked
/// every <see cref="PrecomputeOptions.RefreshInterval"/>). A request as of a time before the
/// version's T cannot use it (that would leak later data) and gets null: the model's own snapshot
/// statistics answer it.
/// </summary>
public sealed class ServingTitleStats(TitleStatsVersions versions, ILogger<ServingTitleStats> logger)
{
    private LoadedTitleStats? current;

    public LoadedTitleStats? Current => Volatile.Read(ref current);

    /// <summary>The statistics to encode a request as of <paramref name="asOf"/> with, or null.</summary>
    public LoadedTitleStats? For(DateTimeOffset asOf) => Current is { } c && c.Version.AsOf <= asOf ? c : null;

    public async Task<LoadedTitleStats?> RefreshAsync(CancellationToken cancellationToken = default)
    {
        var seen = Current;
        var loaded = await versions.CurrentAsync(cancellationToken);
        if (loaded is not null && loaded.Version.Version != seen?.Version.Version)
        {
            Volatile.Write(ref current, loaded);
            logger.LogInformation("Serving title statistics {Version} as of {AsOf:O} ({Titles} titles)", loaded.Version.Version, loaded.Version.AsOf, loaded.Stats.Titles.Count);
        }

        return Current;
    }
}

/// <summary>Follows the current versions of the derived data this instance serves (title statistics, lookups).</summary>
public sealed class DerivedDataRefresher(ServingTitleStats stats, PrecomputedLookups lookups, IOptions<PrecomputeOptions> options, ILogger<DerivedDataRefresher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await stats.RefreshAsync(stoppingToken);
                await lookups.RefreshAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Reading the current derived-data versions failed; serving what is loaded");
            }

            await Task.Delay(options.Value.RefreshInterval, stoppingToken);
        }
    }
}
