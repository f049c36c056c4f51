using Serverless.Precompute;

namespace Serverless.Sentinel;

/// <summary>
/// A versioned derived dataset a model reads ("derived/{dataset}:{version}", e.g. the title statistics
/// time travel read at training): available when the Hulk's registry knows the version, it was
/// published (a building, failed or removed version is not), and its files are in the derived-data
/// store. One resolver per dataset, since the dataset is part of the kind.
/// </summary>
public sealed class DerivedDependencyResolver : IDependencyResolver
{
    private readonly DerivedVersionRegistry registry;
    private readonly DerivedDataStore store;

    public DerivedDependencyResolver(string dataset, DerivedVersionRegistry registry, DerivedDataStore store)
    {
        if (!DerivedDatasets.IsKnown(dataset))
        {
            throw new ArgumentException($"Unknown derived dataset '{dataset}' (known: {string.Join(", ", DerivedDatasets.All)}).", nameof(dataset));
        }

        Dataset = dataset;
        this.registry = registry ?? throw new ArgumentNullException(nameof(registry));
        this.store = store ?? throw new ArgumentNullException(nameof(store));
    }

    public string Dataset { get; }

    public string Kind => DerivedDatasets.DependencyPrefix + Dataset;

    /// <summary>A resolver for every derived dataset.</summary>
    public static IEnumerable<DerivedDependencyResolver> All(DerivedVersionRegistry registry, DerivedDataStore store) =>
        DerivedDatasets.All.Select(d => new DerivedDependencyResolver(d, registry, store));

    public async Task<ResolvedDependency> ResolveAsync(string dependency, string reference, CancellationToken cancellationToken)
    {
        if (!DerivedDatasets.TryParseDependency(dependency, out var dataset, out var version) || dataset != Dataset)
        {
            return new(dependency, false, $"not a valid {Kind} version id: '{reference}'");
        }

        try
        {
            var found = await registry.GetAsync(dataset, version, cancellationToken);
            if (found is null)
            {
                return new(dependency, false, $"{dataset} version '{version}' is not in the derived-data registry");
            }

            if (found.Status != DerivedVersionStatus.Published)
            {
                return new(dependency, false, $"{dataset} version '{version}' is {found.Status.ToString().ToLowerInvariant()}, not published");
            }

            if (!await store.ExistsAsync(dataset, version, cancellationToken))
            {
                return new(dependency, false, $"{dataset} version '{version}' is registered but its files are gone");
            }

            return new(dependency, true, $"{dataset} version as of {found.AsOf:O}, {found.Partitions} partitions", found);
        }
        catch (Azure.RequestFailedException ex) when (ex.Status is 404 or 400)
        {
            return new(dependency, false, $"{dataset} version '{version}' unreadable: {ex.Message}");
        }
    }
}
