using Serverless.Access;

namespace Serverless.TimeMachine;

/// <summary>A checked start of a context snapshot: T, the sample, and who asked (name, and object id when a person signed in).</summary>
public sealed record SnapshotStart(DateTimeOffset AsOf, ContextSample Sample, string RequestedBy, string? RequestedByObjectId);

/// <summary>
/// Body of POST /api/timemachine/snapshots, all optional: T (<c>asOf</c>, default now), the sample
/// (<c>sampleRate</c>, <c>seed</c>, <c>strata</c> default to <see cref="TimeMachineOptions"/>; or exactly
/// the named <c>members</c>) and who asked (the signed-in person when there is one, else this name,
/// else "anonymous").
/// </summary>
public sealed record SnapshotStartRequest(DateTimeOffset? AsOf, double? SampleRate, int? Seed, int? Strata, string[]? Members, string? RequestedBy)
{
    public const int MaxRequestedByLength = 200;

    public static SnapshotStartRequest Empty { get; } = new(null, null, null, null, null, null);

    /// <summary>
    /// The request with its defaults filled in; a 400 refusal naming the field otherwise: a T after
    /// <paramref name="now"/> (nothing is known about the future yet) or before 1990, a bad sample, a
    /// requestedBy that is too long.
    /// </summary>
    public SnapshotStart Validate(DateTimeOffset now, TimeMachineOptions options, OperatorIdentity? signedIn = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var at = AsOf ?? now;
        if (at > now)
        {
            throw new SnapshotRefusedException(400, $"asOf {at:O} is in the future (now is {now:O}): a snapshot holds only what is known, and nothing is known about the future yet");
        }

        if (at.Year < 1990)
        {
            throw new SnapshotRefusedException(400, "asOf must be after 1990");
        }

        var sample = new ContextSample(SampleRate ?? options.SampleRate, Seed ?? options.SampleSeed, Strata ?? options.Strata, Members);
        if (sample.Error() is { } error)
        {
            throw new SnapshotRefusedException(400, error);
        }

        if (RequestedBy is { Length: > MaxRequestedByLength })
        {
            throw new SnapshotRefusedException(400, $"requestedBy may hold at most {MaxRequestedByLength} characters");
        }

        var by = signedIn?.Name ?? (string.IsNullOrWhiteSpace(RequestedBy) ? "anonymous" : RequestedBy);
        return new SnapshotStart(at, sample, by, signedIn?.ObjectId);
    }
}
