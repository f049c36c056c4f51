using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Data.Tables;
using Serverless.Facts;

namespace Serverless.Archive;

/// <summary>
/// The identities of every fact version stored in one member's partition, in one entity (row key
/// <see cref="RowKey"/>, after every fact row): sorted pairs of a 64-bit hash of the id and 64 bits
/// of the content hash (<see cref="FactIdentity.Hash"/>), 16 bytes per version, packed in binary
/// properties. Written in the same entity-group transaction as the fact rows it describes
/// (ETag-guarded), it replaces the identity row per fact: a transaction carries 98 facts instead of
/// 49, and a fact costs one entity write instead of two. A member with more versions than the
/// entity holds (<see cref="MaxVersions"/>, about 57,000) goes on with identity rows.
/// </summary>
public sealed class MemberIdentities
{
    public const string RowKey = "~ids";
    private const int MaxPropertyBytes = 64 * 1024;
    private const int MaxProperties = 14;
    private const int PairBytes = 16;

    /// <summary>Versions one entity holds at most.</summary>
    public const int MaxVersions = MaxPropertyBytes * MaxProperties / PairBytes;

    private static readonly string[] PropertyNames = Enumerable.Range(0, MaxProperties).Select(i => "I" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    private readonly ulong[] ids;
    private readonly ulong[] contents;

    private MemberIdentities(ulong[] ids, ulong[] contents, ETag etag)
    {
        this.ids = ids;
        this.contents = contents;
        ETag = etag;
    }

    public static MemberIdentities Empty { get; } = new([], [], default);

    public int Count => ids.Length;

    public ETag ETag { get; }

    public bool IsStored => ETag != default;

    /// <summary>
    /// Whether one more transaction's versions still fit. Once false it stays false (the set only
    /// grows), so a member past the size keeps identity rows for every later version and no id is
    /// ever only in neither place.
    /// </summary>
    public bool HasRoom => ids.Length + FactArchive.MaxMemberFactsPerTransaction <= MaxVersions;

    public static ulong IdHash(string id) => BinaryPrimitives.ReadUInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes(id)));

    public static ulong ContentHash(Fact fact) => Convert.ToUInt64(FactIdentity.Hash(fact)[..16], 16);

    /// <summary>The content hash stored for <paramref name="id"/>, if a version with that id is stored.</summary>
    public bool TryGet(string id, out ulong content)
    {
        var i = Array.BinarySearch(ids, IdHash(id));
        content = i >= 0 ? contents[i] : 0;
        return i >= 0;
    }

    /// <summary>This set with <paramref name="facts"/> added (ids already held keep their stored hash).</summary>
    public MemberIdentities With(IEnumerable<Fact> facts) => From(Pairs().Concat(facts.Select(f => (IdHash(f.Id), ContentHash(f)))), ETag);

    /// <summary>The set of every version in <paramref name="rows"/> (a partition written before these entities existed).</summary>
    public static MemberIdentities FromFacts(IEnumerable<Fact> rows, ETag etag = default) => From(rows.Select(f => (IdHash(f.Id), ContentHash(f))), etag);

    private IEnumerable<(ulong Id, ulong Content)> Pairs()
    {
        for (var i = 0; i < ids.Length; i++)
        {
            yield return (ids[i], contents[i]);
        }
    }

    private static MemberIdentities From(IEnumerable<(ulong Id, ulong Content)> pairs, ETag etag)
    {
        var sorted = new SortedDictionary<ulong, ulong>();
        foreach (var (id, content) in pairs)
        {
            sorted.TryAdd(id, content);
        }

        return new MemberIdentities(sorted.Keys.ToArray(), sorted.Values.ToArray(), etag);
    }

    public TableEntity ToEntity(string partitionKey)
    {
        var bytes = new byte[ids.Length * PairBytes];
        for (var i = 0; i < ids.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(i * PairBytes), ids[i]);
            BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(i * PairBytes + 8), contents[i]);
        }

        var entity = new TableEntity(partitionKey, RowKey) { ["Versions"] = ids.Length };
        for (var p = 0; p * MaxPropertyBytes < bytes.Length; p++)
        {
            entity[PropertyNames[p]] = bytes.AsSpan(p * MaxPropertyBytes, Math.Min(MaxPropertyBytes, bytes.Length - p * MaxPropertyBytes)).ToArray();
        }

        return entity;
    }

    public static MemberIdentities FromEntity(TableEntity entity)
    {
        var count = entity.GetInt32("Versions") ?? 0;
        var bytes = new byte[count * PairBytes];
        var offset = 0;
        for (var p = 0; offset < bytes.Length; p++)
        {
            var part = entity.GetBinary(PropertyNames[p]) ?? throw new InvalidDataException($"identities of {entity.PartitionKey} miss property {PropertyNames[p]}");
            part.CopyTo(bytes, offset);
            offset += part.Length;
        }

        var ids = new ulong[count];
        var contents = new ulong[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(i * PairBytes));
            contents[i] = BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(i * PairBytes + 8));
        }

        return new MemberIdentities(ids, contents, entity.ETag);
    }

    /// <summary>The transaction action that stores <paramref name="next"/> in place of this set (ETag-guarded, or an add).</summary>
    public TableTransactionAction Write(string partition, MemberIdentities next) =>
        IsStored
            ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, next.ToEntity(partition), ETag)
            : new TableTransactionAction(TableTransactionActionType.Add, next.ToEntity(partition));

    /// <summary>This set as stored with <paramref name="etag"/> (after a write).</summary>
    public MemberIdentities WithETag(ETag etag) => new(ids, contents, etag);
}

/// <summary>
/// The identities entities this instance wrote last (with the ETag the write returned), so a
/// member's next transaction starts without reading it back. Safe when stale: a write from a stale
/// one fails its ETag guard and the entity is read again. Bounded by versions held; when full it
/// starts over (the writer then reads entities again).
/// </summary>
internal sealed class IdentityWrites(long maxVersions)
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, MemberIdentities> byPartition = new(StringComparer.Ordinal);
    private long versions;

    public MemberIdentities? Find(string partition)
    {
        lock (gate)
        {
            return byPartition.GetValueOrDefault(partition);
        }
    }

    /// <summary>Keeps <paramref name="written"/> for the partition; null forgets what was kept.</summary>
    public void Keep(string partition, MemberIdentities? written)
    {
        lock (gate)
        {
            if (byPartition.Remove(partition, out var old))
            {
                versions -= old.Count;
            }

            if (written is null)
            {
                return;
            }

            if (versions + written.Count > maxVersions)
            {
                byPartition.Clear();
                versions = 0;
            }

            byPartition[partition] = written;
            versions += written.Count;
        }
    }
}
