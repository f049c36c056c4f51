using Serverless.Access;
using Serverless.Requests;

namespace Serverless.Precompute;

/// <summary>A checked start of a precompute: the dataset, T, the fact snapshot to read (if one), the size, and who asked.</summary>
public sealed record PrecomputeStart(string Dataset, DateTimeOffset AsOf, string? Snapshot, int Size, string RequestedBy, string? RequestedByObjectId);

/// <summary>
/// Body of POST /api/precompute/{dataset}, all optional: T (<c>asOf</c>, default the snapshot's
/// watermark, else now), a fact <c>snapshot</c> to read (its watermark must be T), the <c>size</c> of
/// each key's list (1..100, default 20) and who asked (the signed-in person when there is one, else this
/// name, else "anonymous").
/// </summary>
public sealed record PrecomputeStartRequest(DateTimeOffset? AsOf, string? Snapshot, int? Size, string? RequestedBy)
{
    public const int DefaultSize = 20;
    public const int MaxSize = 100;
    public const int MaxRequestedByLength = 200;

    public static PrecomputeStartRequest Empty { get; } = new(null, null, null, null);

    /// <summary>The request with its defaults filled in; a 400 refusal naming the field otherwise.</summary>
    public PrecomputeStart Validate(string? dataset, DateTimeOffset now, OperatorIdentity? signedIn = null)
    {
        var known = PrecomputeRequests.Dataset(dataset);
        var size = Size ?? DefaultSize;
        if (size is < 1 or > MaxSize)
        {
            throw new PrecomputeRefusedException(400, $"size must be 1..{MaxSize}");
        }

        DateTimeOffset? snapshotAt = null;
        if (Snapshot is not null)
        {
            try
            {
                snapshotAt = Snapshot.Length <= 80 ? Training.TrainingJob.WatermarkOf(Snapshot) : throw new InvalidDataException("too long");
            }
            catch (InvalidDataException)
            {
                throw new PrecomputeRefusedException(400, "snapshot must be a fact snapshot name (facts-<ticks>.jsonl.gz)");
            }
        }

        var at = AsOf ?? snapshotAt ?? now;
        if (at > now)
        {
            throw new PrecomputeRefusedException(400, $"asOf {at:O} is in the future (now is {now:O}): a version holds only what is known");
        }

        if (snapshotAt is not null && snapshotAt != at)
        {
            throw new PrecomputeRefusedException(400, $"snapshot {Snapshot} is as of {snapshotAt:O}, not asOf {at:O}");
        }

        if (RequestedBy is { Length: > MaxRequestedByLength })
        {
            throw new PrecomputeRefusedException(400, $"requestedBy may hold at most {MaxRequestedByLength} characters");
        }

        var by = signedIn?.Name ?? (string.IsNullOrWhiteSpace(RequestedBy) ? "anonymous" : RequestedBy);
        return new PrecomputeStart(known, at, Snapshot, size, by, signedIn?.ObjectId);
    }
}

/// <summary>The precompute and lookup routes' parameters.</summary>
public static class PrecomputeRequests
{
    /// <summary>A dataset named in a route: a 400 refusal naming the datasets unless it is one of them.</summary>
    public static string Dataset(string? dataset) =>
        DerivedDatasets.IsKnown(dataset)
            ? dataset!
            : throw new PrecomputeRefusedException(400, $"unknown dataset '{Cut(dataset)}': use one of {string.Join(", ", DerivedDatasets.All)}");

    /// <summary>GET /api/precompute/{dataset} takes no query parameters.</summary>
    public static string Versions(string? dataset, RequestQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Allow();
        return Dataset(dataset);
    }

    /// <summary>
    /// The <c>count</c> of a lookup (GET /api/titles/{id}/similar, /api/members/{id}/recommendations):
    /// a whole number 1..<see cref="PrecomputedLookups.MaxCount"/>, null when absent (the lookup's
    /// default); anything else, or another parameter, is a 400 refusal naming it.
    /// </summary>
    public static int? Count(RequestQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        query.Allow("count");
        return query.Single("count") is { Length: > 0 } ? query.Int("count", 1, PrecomputedLookups.MaxCount, 0) : null;
    }

    private static string Cut(string? s) => s is null ? "" : s.Length <= 40 ? s : s[..40] + "...";
}
