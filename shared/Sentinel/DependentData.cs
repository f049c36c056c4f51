using Serverless.Facts;
using Serverless.Models;
using Serverless.TimeMachine;

namespace Serverless.Sentinel;

/// <summary>A dependency checked: available or not, what was found, and what it loaded (for checks that read it).</summary>
public sealed record ResolvedDependency(string Dependency, bool Available, string Detail, object? Data = null);

/// <summary>
/// Checks that one kind of dependent data exists and loads. A manifest names each dependency as
/// "kind:reference"; a new kind of derived dataset (e.g. the Hulk's versioned outputs) only
/// registers a resolver. Throws for a transient storage failure (not a verdict); returns
/// Available = false when the data is missing or unreadable.
/// </summary>
public interface IDependencyResolver
{
    string Kind { get; }

    Task<ResolvedDependency> ResolveAsync(string dependency, string reference, CancellationToken cancellationToken);
}

/// <summary>The fact snapshot a model was trained from ("snapshot:facts-....jsonl.gz"): loads it; Data is the facts.</summary>
public sealed class SnapshotDependencyResolver(FactSnapshotStore snapshots) : IDependencyResolver
{
    public const string KindName = "snapshot";

    public string Kind => KindName;

    public async Task<ResolvedDependency> ResolveAsync(string dependency, string reference, CancellationToken cancellationToken)
    {
        try
        {
            if (!await snapshots.ExistsAsync(reference, cancellationToken))
            {
                return new(dependency, false, $"snapshot '{reference}' not found");
            }

            var facts = await snapshots.LoadAsync(reference, cancellationToken);
            return new(dependency, true, $"{facts.Count} facts", facts);
        }
        catch (Exception ex) when (ex is InvalidDataException or System.Text.Json.JsonException or Azure.RequestFailedException { Status: 404 or 400 })
        {
            return new(dependency, false, $"snapshot '{reference}' unreadable: {ex.Message}");
        }
    }
}

/// <summary>Every registered resolver by kind; the dependent-data check over a manifest's dependencies.</summary>
public sealed class DependencyResolvers(IEnumerable<IDependencyResolver> resolvers)
{
    private readonly Dictionary<string, IDependencyResolver> byKind = resolvers.ToDictionary(r => r.Kind, StringComparer.Ordinal);

    public const string Threshold = "every dependency named in the manifest exists and loads";

    public IReadOnlyCollection<string> Kinds => byKind.Keys;

    /// <summary>Resolves every dependency; the check fails on any missing, unreadable or unknown one, or when none is named.</summary>
    public async Task<(SentinelCheck Check, IReadOnlyList<ResolvedDependency> Resolved)> CheckAsync(ModelManifest manifest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var resolved = new List<ResolvedDependency>();
        foreach (var dependency in manifest.Dependencies)
        {
            var colon = dependency.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == dependency.Length - 1)
            {
                resolved.Add(new(dependency, false, "not of the form kind:reference"));
            }
            else if (!byKind.TryGetValue(dependency[..colon], out var resolver))
            {
                resolved.Add(new(dependency, false, $"no resolver for kind '{dependency[..colon]}' (known: {string.Join(", ", byKind.Keys.Order(StringComparer.Ordinal))})"));
            }
            else
            {
                resolved.Add(await resolver.ResolveAsync(dependency, dependency[(colon + 1)..], cancellationToken));
            }
        }

        var missing = resolved.Where(r => !r.Available).ToList();
        var passed = resolved.Count > 0 && missing.Count == 0;
        var measured = resolved.Count == 0 ? "the manifest names no dependency (a model needs at least its fact snapshot)"
            : string.Join("; ", resolved.Select(r => $"{r.Dependency}: {(r.Available ? "ok" : "MISSING")} ({r.Detail})"));
        return (new SentinelCheck(SentinelChecks.DependentData, measured, Threshold, passed)
        {
            Value = missing.Count,
            Explanation = passed ? $"{resolved.Count} dependencies available" : "the data this model reads at serving time is not all there",
        }, resolved);
    }

    /// <summary>The facts of the first available snapshot dependency, if any.</summary>
    public static (string Snapshot, List<Fact> Facts)? Snapshot(IReadOnlyList<ResolvedDependency> resolved) =>
        resolved.FirstOrDefault(r => r.Available && r.Data is List<Fact> && r.Dependency.StartsWith(SnapshotDependencyResolver.KindName + ":", StringComparison.Ordinal)) is { } hit
            ? (hit.Dependency[(SnapshotDependencyResolver.KindName.Length + 1)..], (List<Fact>)hit.Data!)
            : null;
}
