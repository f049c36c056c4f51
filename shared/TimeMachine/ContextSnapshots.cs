using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Serverless.Archive;
using Serverless.Facts;
using Serverless.Lumberjack;

namespace Serverless.TimeMachine;

/// <summary>The Time Machine's settings (<c>TimeMachine__*</c>): the default sample of the daily context snapshot.</summary>
public sealed class TimeMachineOptions
{
    public const string Section = "TimeMachine";

    /// <summary>Share of each activity stratum of members captured (each non-empty stratum gives at least <see cref="ContextSample.MinPerStratum"/>).</summary>
    [Range(0.0001, 1.0)]
    public double SampleRate { get; set; } = 0.1;

    /// <summary>Seed of the sample: the same seed, T and archive give the same members.</summary>
    [Range(0, int.MaxValue)]
    public int SampleSeed { get; set; } = 7;

    /// <summary>Activity strata (quantiles of the members' history size at T): light to heavy.</summary>
    [Range(1, ContextSample.MaxStrata)]
    public int Strata { get; set; } = 3;
}

/// <summary>
/// Which contexts a snapshot captures: a share <see cref="Rate"/> of each activity stratum (members
/// ordered by how many facts they had at T, cut into <see cref="Strata"/> equal groups), picked by a
/// seeded stable hash; or exactly <see cref="Members"/> when given.
/// </summary>
public sealed record ContextSample(double Rate, int Seed, int Strata, IReadOnlyList<string>? Members = null)
{
    public const int MaxStrata = 10;
    public const int MaxMembers = 1000;

    /// <summary>A non-empty stratum contributes at least this many members, so light and heavy members are both present.</summary>
    public const int MinPerStratum = 2;

    /// <summary>The stable hash of the sample (part of the snapshot id, so the same request twice is one snapshot).</summary>
    public string Hash
    {
        get
        {
            var text = string.Create(CultureInfo.InvariantCulture, $"{Rate:R}|{Seed}|{Strata}|{(Members is null ? "-" : string.Join(",", Members))}");
            return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..12];
        }
    }

    public string Describe() => Members is { } m
        ? string.Create(CultureInfo.InvariantCulture, $"{m.Count} named members")
        : string.Create(CultureInfo.InvariantCulture, $"{Rate:P2} of each of {Strata} activity strata (at least {MinPerStratum} each), seed {Seed}");

    /// <summary>The error of a bad sample, or null.</summary>
    public string? Error()
    {
        if (!(Rate > 0 && Rate <= 1))
        {
            return "sampleRate must be in (0, 1]";
        }

        if (Strata is < 1 or > MaxStrata)
        {
            return $"strata must be 1..{MaxStrata}";
        }

        if (Members is { } members)
        {
            if (members.Count is 0 or > MaxMembers)
            {
                return $"members must name 1..{MaxMembers} members (or be left out for a sample): an empty sample captures nothing";
            }

            if (members.Select(m => FactValidator.KeyError("member", m, FactValidator.MaxKeyLength, required: true)).FirstOrDefault(e => e is not null) is { } error)
            {
                return error;
            }

            if (members.Distinct(StringComparer.Ordinal).Count() != members.Count)
            {
                return "members must not repeat a member";
            }
        }

        return null;
    }

    /// <summary>
    /// The members a snapshot captures from the population at T (member, facts known at T). Members
    /// without any fact at T are left out (they have no context to capture). Stratified: members
    /// ordered by activity (ties by seeded hash) are cut into equal strata; from each, the first
    /// max(<see cref="MinPerStratum"/>, ceil(rate x size)) by seeded hash.
    /// </summary>
    public IReadOnlyList<SampledMember> Choose(IReadOnlyList<(string Member, int Activity)> population)
    {
        ArgumentNullException.ThrowIfNull(population);
        var active = population.Where(p => p.Activity > 0)
            .OrderBy(p => p.Activity).ThenBy(p => SeededHash(p.Member)).ThenBy(p => p.Member, StringComparer.Ordinal).ToList();
        var chosen = new List<SampledMember>();
        var strata = Math.Min(Strata, Math.Max(1, active.Count));
        for (var s = 0; s < strata; s++)
        {
            var from = active.Count * s / strata;
            var to = active.Count * (s + 1) / strata;
            var stratum = active.GetRange(from, to - from);
            var take = Members is not null ? stratum.Count : Math.Min(stratum.Count, Math.Max(MinPerStratum, (int)Math.Ceiling(Rate * stratum.Count)));
            chosen.AddRange(stratum.OrderBy(p => SeededHash(p.Member)).ThenBy(p => p.Member, StringComparer.Ordinal).Take(take)
                .Select(p => new SampledMember(p.Member, p.Activity, s)));
        }

        return chosen.OrderBy(m => m.Member, StringComparer.Ordinal).ToList();
    }

    private uint SeededHash(string member) => FeatureLogSampler.StableHash(string.Create(CultureInfo.InvariantCulture, $"{Seed}:{member}"));
}

/// <summary>A member in a snapshot: how many facts it had at T (capped), its activity stratum (0 = lightest).</summary>
public sealed record SampledMember(string Member, int Activity, int Stratum);

/// <summary>A snapshot was refused (400 bad request, 404 unknown, 409 already taken or running).</summary>
public sealed class SnapshotRefusedException(int status, string message) : Serverless.Requests.RequestRefusedException(status, message);

/// <summary>Start a context snapshot (the orchestration's input; the id is fixed before it starts).</summary>
public sealed record ContextSnapshotRequest(string Id, DateTimeOffset AsOf, ContextSample Sample, string ConfigHash, int Partitions, int MaxParallel, string RequestedBy)
{
    /// <summary>The Entra object id of the signed-in person who asked (recorded in the manifest); null when nobody signed in.</summary>
    public string? RequestedByObjectId { get; init; }
}

/// <summary>One written blob of a snapshot: its name, what it holds and its size.</summary>
public sealed record SnapshotPart(string Blob, int Members, long Facts, long Bytes);

/// <summary>
/// A complete context snapshot's manifest (written last: a snapshot without one is not complete).
/// <see cref="DerivedVersions"/>: per derived dataset, the version current at T (none: not listed);
/// <see cref="TitleStatsBlob"/>: the title statistics recomputed from the facts known at T, when no
/// title-stats version was current at T.
/// </summary>
public sealed record ContextSnapshotManifest(
    string Id,
    DateTimeOffset AsOf,
    ContextSample Sample,
    string SampleDescription,
    string ConfigHash,
    int Population,
    int Members,
    IReadOnlyList<int> MembersPerStratum,
    IReadOnlyList<string> WithoutHistory,
    long MemberFacts,
    int CatalogEntries,
    IReadOnlyDictionary<string, string> DerivedVersions,
    string? TitleStatsBlob,
    IReadOnlyList<SnapshotPart> Parts,
    long Bytes,
    DateTimeOffset CompletedAt,
    string RequestedBy)
{
    /// <summary>The Entra object id of the signed-in person who asked for it; null when nobody signed in (the timer, the main job).</summary>
    public string? RequestedByObjectId { get; init; }

    public string Summary() => string.Create(CultureInfo.InvariantCulture,
        $"context snapshot {Id} as of {AsOf:O}: {Members} of {Population} members ({SampleDescription}; per stratum, light to heavy: {string.Join("/", MembersPerStratum)}), {MemberFacts} member facts, {CatalogEntries} catalog entries, derived data {(DerivedVersions.Count == 0 ? "none current (title statistics recomputed at T)" : string.Join(", ", DerivedVersions.Select(d => $"{d.Key}:{d.Value}")))}, {Parts.Count} files, {Bytes:N0} bytes");
}

/// <summary>What happened to a snapshot run (a name on the wire).</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<ContextSnapshotOutcome>))]
public enum ContextSnapshotOutcome
{
    /// <summary>Every file written, then the manifest: the snapshot is complete.</summary>
    Complete,

    /// <summary>No member had a fact known at T (or every named member is unknown): nothing was written, no manifest.</summary>
    Empty,
}

/// <summary>The orchestration's output.</summary>
public sealed record ContextSnapshotResult(string Id, ContextSnapshotOutcome Outcome, DateTimeOffset AsOf, int Members, long MemberFacts, long Bytes, string? Reason);

/// <summary>Snapshot ids: <c>ctx-{T}-{sample hash}</c>, so the same T and sample is one snapshot, never two.</summary>
public static partial class ContextSnapshotIds
{
    public static string Create(DateTimeOffset asOf, ContextSample sample) =>
        string.Create(CultureInfo.InvariantCulture, $"ctx-{asOf.UtcDateTime:yyyyMMdd'T'HHmmssfffffff}-{sample.Hash}");

    public static bool IsValid(string? id) => id is not null && Pattern().IsMatch(id);

    [GeneratedRegex("^ctx-[0-9]{8}T[0-9]{13}-[0-9a-f]{12}$")]
    private static partial Regex Pattern();
}

/// <summary>One captured member: its stratum, activity and the facts the encoder reads for it at T.</summary>
public sealed record SnapshotMember(string Member, int Stratum, int Activity, IReadOnlyList<Fact> Facts);
