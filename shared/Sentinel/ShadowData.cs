namespace Serverless.Sentinel;

/// <summary>
/// Labelled impressions as logged (the Lumberjack's shadow data), grouped by request: row i belongs
/// to request <see cref="Request"/>[i]. Both models are scored on these very vectors.
/// </summary>
public sealed class ShadowData
{
    public ShadowData(IReadOnlyList<float[]> features, IReadOnlyList<bool> labels, IReadOnlyList<string> requests, IReadOnlyList<string>? members = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(requests);
        if (features.Count != labels.Count || features.Count != requests.Count)
        {
            throw new ArgumentException($"{features.Count} vectors, {labels.Count} labels and {requests.Count} request ids must be as many.");
        }

        Features = features;
        Labels = labels;
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        Request = requests.Select(r => ids.TryGetValue(r, out var i) ? i : ids[r] = ids.Count).ToArray();
        RequestCount = ids.Count;
        if (members is not null && members.Count != features.Count)
        {
            throw new ArgumentException($"{features.Count} vectors and {members.Count} members must be as many.");
        }

        MemberCount = members?.Distinct(StringComparer.Ordinal).Count();
    }

    public IReadOnlyList<float[]> Features { get; }

    public IReadOnlyList<bool> Labels { get; }

    /// <summary>The request index (0..RequestCount-1) of each row.</summary>
    public int[] Request { get; }

    public int RequestCount { get; }

    /// <summary>Distinct members among the rows, when known: the independent units of the member features.</summary>
    public int? MemberCount { get; }

    public int Count => Labels.Count;

    public static ShadowData Empty { get; } = new([], [], []);
}
