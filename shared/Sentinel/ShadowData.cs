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

        Members = members is null ? null : MemberUnits.Of(members);

        // The bootstrap's unit: a request's member when members are known (a member's requests are not
        // independent draws: one active member's taste moves all of them), else the request itself.
        UnitOfRequest = new int[RequestCount];
        if (members is null)
        {
            for (var r = 0; r < RequestCount; r++) { UnitOfRequest[r] = r; }
            UnitCount = RequestCount;
        }
        else
        {
            var units = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i < members.Count; i++)
            {
                UnitOfRequest[Request[i]] = units.TryGetValue(members[i], out var u) ? u : units[members[i]] = units.Count;
            }

            UnitCount = units.Count;
        }
    }

    public IReadOnlyList<float[]> Features { get; }

    public IReadOnlyList<bool> Labels { get; }

    /// <summary>The request index (0..RequestCount-1) of each row.</summary>
    public int[] Request { get; }

    public int RequestCount { get; }

    /// <summary>The bootstrap unit (0..UnitCount-1) of each request: its member's index when members are known, else the request's own.</summary>
    public int[] UnitOfRequest { get; }

    /// <summary>How many independent units the bootstrap resamples: members when known, else requests.</summary>
    public int UnitCount { get; }

    /// <summary>What the bootstrap resamples, for reports: "members" or "requests".</summary>
    public string UnitName => Members is null ? "requests" : "members";

    /// <summary>The members among the rows, when known: the independent units of the member features.</summary>
    public MemberUnits? Members { get; }

    public int Count => Labels.Count;

    public static ShadowData Empty { get; } = new([], [], []);
}

/// <summary>
/// How many members a set of rows holds, as independent units of the member features: <see cref="Distinct"/>
/// members, and the <see cref="Effective"/> number (Kish): (sum of rows per member)^2 / sum of (rows per member)^2.
/// A member's rows carry (nearly) one value of each member feature, so rows of one member are one draw,
/// not many; when a few members hold most rows, the sample behaves like fewer members than it names
/// (34 members of whom one holds a third of the rows weigh like about 8 equal ones).
/// </summary>
public sealed record MemberUnits(int Distinct, double Effective)
{
    public static MemberUnits Of(IEnumerable<string> rowMembers)
    {
        ArgumentNullException.ThrowIfNull(rowMembers);
        var rows = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var m in rowMembers)
        {
            rows[m] = rows.GetValueOrDefault(m) + 1;
        }

        double sum = 0, squares = 0;
        foreach (var count in rows.Values)
        {
            sum += count;
            squares += (double)count * count;
        }

        return new MemberUnits(rows.Count, squares == 0 ? 0 : sum * sum / squares);
    }
}
