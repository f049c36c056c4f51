using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Models;

namespace Serverless.Precompute;

/// <summary>What one cleanup did: the versions removed, and those kept although old enough, with why.</summary>
public sealed record DerivedCleanupResult(IReadOnlyList<string> Removed, IReadOnlyDictionary<string, string> Kept, int Examined);

/// <summary>
/// Removes old derived-data versions so storage stays consistent with what is served: a version
/// replaced (or failed) more than <see cref="PrecomputeOptions.CleanupGrace"/> ago loses its files and
/// is marked Removed; its row stays, so "the version current at t" is still answerable (time-travel
/// training then recomputes the statistics at the cutoff: the documented fallback rule). Never
/// removed: the current version, a version being built, and any version a model's manifest names
/// in its dependencies when that model is live, the rollback target (the live alias's previous), or
/// a candidate on its way to approval (Candidate or Approved).
/// </summary>
public sealed class DerivedDataCleanup(
    DerivedVersionRegistry registry,
    DerivedDataStore store,
    ModelRegistry models,
    ModelStore modelStore,
    IOptions<PrecomputeOptions> options,
    TimeProvider time,
    ILogger<DerivedDataCleanup> logger)
{
    public const string KeptCurrent = "current version";
    public const string KeptReferenced = "a live, previous or candidate model depends on it";

    public async Task<DerivedCleanupResult> RunAsync(CancellationToken cancellationToken = default)
    {
        var grace = options.Value.CleanupGrace;
        var now = time.GetUtcNow();
        var referenced = await ReferencedAsync(cancellationToken);
        var removed = new List<string>();
        var kept = new Dictionary<string, string>(StringComparer.Ordinal);
        var examined = 0;
        foreach (var dataset in DerivedDatasets.All)
        {
            var current = await registry.CurrentAsync(dataset, cancellationToken);
            foreach (var version in await registry.ListAsync(dataset, cancellationToken))
            {
                examined++;
                var since = version.Status switch
                {
                    DerivedVersionStatus.Published => version.ReplacedAt,
                    DerivedVersionStatus.Failed => version.CreatedAt,
                    _ => null, // Building (its precompute may still run) or Removed already
                };
                if (since is null || now - since.Value < grace)
                {
                    continue;
                }

                if (version.Version == current?.Version)
                {
                    kept[version.Dependency] = KeptCurrent;
                    continue;
                }

                if (referenced.TryGetValue(version.Dependency, out var model))
                {
                    kept[version.Dependency] = $"{KeptReferenced} ({model})";
                    continue;
                }

                var files = await store.DeleteVersionAsync(dataset, version.Version, cancellationToken);
                await registry.MarkRemovedAsync(dataset, version.Version, cancellationToken);
                removed.Add(version.Dependency);
                logger.LogInformation("Cleanup removed {Dataset} {Version} ({Status} since {Since:O}, {Files} files)", dataset, version.Version, version.Status, since, files);
            }
        }

        return new DerivedCleanupResult(removed, kept, examined);
    }

    /// <summary>Dependency string -> the model version that names it, over the models cleanup must not break.</summary>
    private async Task<Dictionary<string, string>> ReferencedAsync(CancellationToken cancellationToken)
    {
        var protect = new HashSet<string>(StringComparer.Ordinal);
        if (await models.GetLiveAsync(cancellationToken) is { } alias)
        {
            protect.Add(alias.Version);
            if (alias.Previous is { } previous)
            {
                protect.Add(previous);
            }
        }

        foreach (var record in await models.ListAsync(cancellationToken))
        {
            if (record.Status is ModelStatus.Live or ModelStatus.Candidate or ModelStatus.Approved)
            {
                protect.Add(record.Version);
            }
        }

        var referenced = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var version in protect.Order(StringComparer.Ordinal))
        {
            ModelManifest? manifest;
            try
            {
                manifest = await modelStore.GetManifestAsync(version, cancellationToken);
            }
            catch (InvalidDataException)
            {
                manifest = null;
            }

            foreach (var dependency in manifest?.Dependencies ?? [])
            {
                if (DerivedDatasets.TryParseDependency(dependency, out _, out _))
                {
                    referenced.TryAdd(dependency, version);
                }
            }
        }

        return referenced;
    }
}
