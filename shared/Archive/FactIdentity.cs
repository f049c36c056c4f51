using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Azure.Data.Tables;
using Serverless.Facts;

namespace Serverless.Archive;

/// <summary>
/// A fact's identity is its id. Each stored fact version's identity (its id and a hash of its
/// content) is written in the same entity-group transaction as the fact row: in a member's
/// partition into the member's identities entity (<see cref="MemberIdentities"/>, one entity per
/// transaction); in the catalog partition, or for a member past that entity's size, as an identity
/// row (row key <see cref="RowKeyPrefix"/> + id, sorting after every fact row, so fact queries
/// bounded by <see cref="RecentHistory.FactRowKeyBound"/> never see it). An exact resend of a fact
/// (same content; the ingest time is the hub's and may differ) is a duplicate; the same id with any
/// other content is refused with <see cref="ReusedReason"/> and never stored.
/// </summary>
public static class FactIdentity
{
    /// <summary>Identity row keys start here ('~' sorts after every fact row key; ids are [A-Za-z0-9_.:-]).</summary>
    public const string RowKeyPrefix = "~id:";

    /// <summary>Where a dead-letter reason for a re-used id starts.</summary>
    public const string ReusedReason = "id reused with different content";

    public const string ContentHash = nameof(ContentHash);

    public static string RowKey(string id) => RowKeyPrefix + id;

    public static TableEntity ToEntity(Fact fact) => new(fact.PartitionKey, RowKey(fact.Id))
    {
        [ContentHash] = Hash(fact),
    };

    /// <summary>A hash of everything the producer said (not the ingest time, which the hub stamps).</summary>
    public static string Hash(Fact fact) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Canonical(fact)))[..16]);

    /// <summary>The refusal's reason; <paramref name="stored"/>, when known, names the fields that differ.</summary>
    public static string Reused(Fact fact, Fact? stored)
    {
        var differs = stored is null ? null : string.Join(", ", Differences(fact, stored));
        return $"{ReusedReason}: fact '{fact.Id}' is already stored"
            + (string.IsNullOrEmpty(differs) ? " with other content" : $" with another {differs}")
            + "; an id names one fact (to change a fact, publish a correction with a new id and supersedes)";
    }

    /// <summary>The JSON fields in which two facts of one id differ.</summary>
    public static IEnumerable<string> Differences(Fact a, Fact b)
    {
        if (a.Kind != b.Kind) { yield return "kind"; }
        if (a.Member != b.Member) { yield return "member"; }
        if (a.Title != b.Title) { yield return "title"; }
        if (!Equals(a.Value, b.Value)) { yield return "value"; }
        if (a.EventTime.UtcTicks != b.EventTime.UtcTicks) { yield return "eventTime"; }
        if (a.Supersedes != b.Supersedes) { yield return "supersedes"; }
        if (Attributes(a) != Attributes(b)) { yield return "attributes"; }
    }

    private static string Canonical(Fact f) => string.Join('\u001f',
        FactJson.KindName(f.Kind),
        f.Member ?? "\u0000",
        f.Title ?? "\u0000",
        f.Value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "\u0000",
        f.EventTime.UtcTicks.ToString(CultureInfo.InvariantCulture),
        f.Supersedes ?? "\u0000",
        Attributes(f));

    private static string Attributes(Fact f) => f.Attributes is null
        ? "\u0000"
        : string.Join('\u001e', f.Attributes.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "\u001d" + kv.Value));
}
