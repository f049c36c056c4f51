namespace Serverless.Workflows.Precompute;

/// <summary>
/// Compute one derived dataset for every key as of <see cref="AsOf"/> (fixed before the orchestration
/// starts) and publish it as a new version. <see cref="Snapshot"/> names a fact snapshot to read (its
/// watermark must be AsOf); without one the archive's batch interface is read as of AsOf into one.
/// </summary>
public sealed record PrecomputeRequest(string Dataset, DateTimeOffset AsOf, string? Snapshot, int Partitions, int MaxParallel, int Size, string RequestedBy)
{
    /// <summary>The Entra object id of the signed-in person who started it (recorded in the version's inputs); null when nobody signed in.</summary>
    public string? RequestedByObjectId { get; init; }
}

/// <summary>How a precompute ended (a name on the wire).</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<PrecomputeOutcome>))]
public enum PrecomputeOutcome
{
    /// <summary>Every partition was written and the pointer switched to the new version.</summary>
    Published,

    /// <summary>Another precompute of the dataset holds its lock (or there is nothing to compute with): nothing was written.</summary>
    Refused,
}

/// <summary>What a precompute did.</summary>
public sealed record PrecomputeResult(string Dataset, string Version, PrecomputeOutcome Outcome, DateTimeOffset AsOf, long Keys, long Items, string? Replaced, string? Reason);

/// <summary>Take the dataset's lock and register the version (Building).</summary>
public sealed record BeginPrecomputeInput(PrecomputeRequest Request, string Version, string Owner);

/// <summary>The lock is held (Refused null) with these inputs, or the precompute is refused and why.</summary>
public sealed record BeginPrecomputeResult(string Snapshot, string? Model, string? Refused);

/// <summary>Make sure the fact snapshot the partitions read exists.</summary>
public sealed record PrepareInputsInput(string Snapshot, DateTimeOffset AsOf);

/// <summary>Switch the pointer to a version whose partitions are all written.</summary>
public sealed record PublishPrecomputeInput(string Dataset, string Version, string Owner, long Keys, long Items);

/// <summary>The version now current and the one it replaced.</summary>
public sealed record PublishPrecomputeResult(string Version, string? Replaced);

/// <summary>Mark a version failed and release the lock; the previous version keeps serving.</summary>
public sealed record FailPrecomputeInput(string Dataset, string Version, string Owner, string Reason);
