using System.Buffers.Binary;
using System.Text;
using Azure;
using Azure.Data.Tables;
using Serverless.Facts;

namespace Serverless.Archive;

/// <summary>
/// A member's recent history as one compact entity in the member's own partition (row key
/// <see cref="RowKey"/>), so the live interface reads a member with one point read instead of a
/// partition query. It is canonical, a function of the partition's fact rows alone: the newest
/// current versions (not superseded, not retractions) in row-key order (newest first), as many as
/// the cap and the size budget allow, packed in binary properties. <see cref="Complete"/> says it
/// holds every current version of the partition. <see cref="LastSupersededAt"/> is the latest
/// moment a version of the partition stopped being current: a read as of an earlier moment may need
/// versions the entity no longer holds, so it goes to the fact rows.
/// The archive writes it only in the entity-group transaction that changes the fact rows it is
/// made from, guarded by its ETag, so it never disagrees with them; and since it is canonical, a
/// redelivered batch leaves it exactly as one clean delivery does.
/// </summary>
public sealed class RecentHistory
{
    /// <summary>The entity's row key. Fact row keys start with 19 digits (member rows) or a title, so none sorts at or after '~'.</summary>
    public const string RowKey = "~recent";

    /// <summary>Every fact row key sorts before this bound; the entity's key does not.</summary>
    public const string FactRowKeyBound = "~";

    /// <summary>The first byte of the packed data. Readers treat another version as absent (and go to the fact rows).</summary>
    public const byte FormatVersion = 1;

    /// <summary>Table binary properties hold at most 64 KiB each.</summary>
    public const int MaxPropertyBytes = 64 * 1024;

    /// <summary>Binary properties at most: 896 KiB of packed facts stays under the 1 MiB entity limit with room for keys and names.</summary>
    public const int MaxProperties = 14;

    public const int MaxBytes = MaxPropertyBytes * MaxProperties;

    private const int HeaderBytes = 1 + 1 + 8 + 4;
    private const byte CompleteFlag = 1;
    private const byte KindRating = 0;
    private const byte KindCatalog = 1;
    private const byte KindRetraction = 2;

    private static readonly string[] PropertyNames = Enumerable.Range(0, MaxProperties).Select(i => "D" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    private readonly byte[] packed;
    private string[]? rowKeys;

    private RecentHistory(IReadOnlyList<ArchivedFact> facts, bool complete, DateTimeOffset? lastSupersededAt, byte[] packed, ETag etag)
    {
        Facts = facts;
        Complete = complete;
        LastSupersededAt = lastSupersededAt;
        this.packed = packed;
        ETag = etag;
    }

    /// <summary>The newest current versions, newest first (row-key order). None is superseded or a retraction.</summary>
    public IReadOnlyList<ArchivedFact> Facts { get; }

    /// <summary>Whether <see cref="Facts"/> is every current version of the partition (otherwise the newest of them).</summary>
    public bool Complete { get; }

    /// <summary>The latest SupersededAt of any row of the partition (null: nothing was ever superseded).</summary>
    public DateTimeOffset? LastSupersededAt { get; }

    /// <summary>The stored entity's ETag; default when it is not stored yet (the next write adds it).</summary>
    public ETag ETag { get; }

    public bool IsStored => ETag != default;

    /// <summary>Bytes of packed data (what the entity's binary properties hold).</summary>
    public int PackedBytes => packed.Length;

    /// <summary>Whether a partition keeps a recent-history entity: member partitions do, the catalog does not.</summary>
    public static bool Applies(string partitionKey) => partitionKey.StartsWith(FactPartition.MemberPrefix, StringComparison.Ordinal);

    /// <summary>Whether a fact version of this kind can be current (retractions never are).</summary>
    public static bool CanBeCurrent(Fact fact) => fact.Kind != FactKind.Retraction;

    /// <summary>The row keys of <see cref="Facts"/>, in the same order.</summary>
    public IReadOnlyList<string> RowKeys => rowKeys ??= Facts.Select(f => FactRows.RowKey(f.Fact)).ToArray();

    /// <summary>Whether the entity holds the version stored under <paramref name="rowKey"/> (so that row exists).</summary>
    public bool Holds(string rowKey) => IndexOf(rowKey) >= 0;

    /// <summary>The version stored under <paramref name="rowKey"/> when the entity holds it, else null.</summary>
    public Fact? Held(string rowKey) => IndexOf(rowKey) is >= 0 and var i ? Facts[i].Fact : null;

    private int IndexOf(string rowKey)
    {
        var keys = RowKeys;
        var lo = 0;
        var hi = keys.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var c = string.CompareOrdinal(keys[mid], rowKey);
            if (c == 0)
            {
                return mid;
            }

            if (c < 0) { lo = mid + 1; } else { hi = mid - 1; }
        }

        return -1;
    }

    /// <summary>
    /// The live read as of <paramref name="at"/>, with exactly the semantics of the fact-row query
    /// (ingested at or before <paramref name="at"/>, not superseded at it, event time at or before
    /// it, no retractions, newest first, at most <paramref name="limit"/>), when the entity can
    /// answer it exactly; false when the fact rows must answer (versions superseded after
    /// <paramref name="at"/> are no longer held, or more facts are wanted than the entity holds).
    /// </summary>
    public bool TryRead(DateTimeOffset at, int limit, out IReadOnlyList<ArchivedFact> facts)
    {
        facts = [];
        if (LastSupersededAt is { } superseded && at < superseded)
        {
            return false;
        }

        if (limit <= 0)
        {
            return true;
        }

        List<ArchivedFact>? result = null;
        foreach (var f in Facts)
        {
            if (f.Fact.IngestTime <= at && f.Fact.EventTime <= at)
            {
                (result ??= new List<ArchivedFact>(Math.Min(limit, Facts.Count))).Add(f);
                if (result.Count == limit)
                {
                    facts = result;
                    return true;
                }
            }
        }

        // Fewer than wanted: exact only when nothing older exists beyond what is held.
        facts = (IReadOnlyList<ArchivedFact>?)result ?? [];
        return Complete;
    }

    /// <summary>The empty history of a partition without fact rows.</summary>
    public static RecentHistory Empty(int cap) => Pack([], cap, complete: true, null, default);

    /// <summary>Builds the canonical entity from a partition's fact rows (any order; retractions and superseded versions are left out).</summary>
    public static RecentHistory FromFactRows(IEnumerable<ArchivedFact> rows, int cap, ETag etag = default)
    {
        DateTimeOffset? lastSuperseded = null;
        var current = new List<(string Key, Fact Fact)>();
        foreach (var row in rows)
        {
            if (row.SupersededAt is { } at)
            {
                lastSuperseded = lastSuperseded is { } s && s >= at ? s : at;
            }
            else if (CanBeCurrent(row.Fact))
            {
                current.Add((FactRows.RowKey(row.Fact), row.Fact));
            }
        }

        current.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return Pack(current, cap, complete: true, lastSuperseded, etag);
    }

    /// <summary>
    /// The entity after a transaction that adds the rows <paramref name="added"/> and marks the row
    /// <paramref name="supersededRowKey"/> superseded at <paramref name="supersededAt"/>. When a
    /// version leaves and the entity is not complete, versions from beyond the held ones may move in
    /// (or the partition may now fit whole): <paramref name="currentAfter"/> reads the current
    /// versions stored after a row key (at most the given number, newest first). The result keeps
    /// this entity's ETag (the write's guard).
    /// </summary>
    public async Task<RecentHistory> ApplyAsync(
        IReadOnlyCollection<Fact> added,
        string? supersededRowKey,
        DateTimeOffset? supersededAt,
        int cap,
        Func<string, int, CancellationToken, Task<IReadOnlyList<Fact>>> currentAfter,
        CancellationToken cancellationToken)
    {
        var keys = RowKeys;
        var boundary = Complete ? null : keys[^1];
        var removedHeld = supersededRowKey is not null && Holds(supersededRowKey);
        var list = new List<(string Key, Fact Fact)>(Facts.Count + added.Count);
        for (var i = 0; i < keys.Count; i++)
        {
            if (!removedHeld || !string.Equals(keys[i], supersededRowKey, StringComparison.Ordinal))
            {
                list.Add((keys[i], Facts[i].Fact));
            }
        }

        List<(string Key, Fact Fact)>? beyond = null;
        foreach (var fact in added)
        {
            if (!CanBeCurrent(fact))
            {
                continue;
            }

            var key = FactRows.RowKey(fact);
            if (Holds(key))
            {
                continue;
            }

            if (boundary is null || string.CompareOrdinal(key, boundary) < 0)
            {
                list.Add((key, fact));
            }
            else
            {
                (beyond ??= []).Add((key, fact));
            }
        }

        var all = Complete;
        if (!all && supersededRowKey is not null)
        {
            // A version leaves: if it was held, the newest versions beyond the boundary (stored, or
            // added now) move in; if it was not, the partition may now fit the entity whole. Read one
            // more than there is room for, to know whether the partition has more (and one more in
            // case the leaving version, still unmarked in the table, is among them).
            var take = Math.Max(cap - list.Count, 0) + 1;
            var stored = await currentAfter(boundary!, take + 1, cancellationToken);
            var fetched = stored.Where(f => !string.Equals(FactRows.RowKey(f), supersededRowKey, StringComparison.Ordinal)).Take(take).ToList();
            list.AddRange(fetched.Select(f => (FactRows.RowKey(f), f)));
            if (beyond is not null)
            {
                list.AddRange(beyond);
            }

            all = fetched.Count < take;
        }

        // Without a version leaving, the entity was full up to its boundary: versions beyond it stay out.
        list.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var last = LastSupersededAt;
        if (supersededAt is { } at && (last is null || at > last))
        {
            last = at;
        }

        return Pack(list, cap, all, last, ETag);
    }

    /// <summary>The entity to store (its binary properties hold <see cref="PackedBytes"/> bytes in 64 KiB parts).</summary>
    public TableEntity ToEntity(string partitionKey)
    {
        var entity = new TableEntity(partitionKey, RowKey);
        for (int offset = 0, part = 0; offset < packed.Length; offset += MaxPropertyBytes, part++)
        {
            entity[PropertyNames[part]] = new BinaryData(packed.AsMemory(offset, Math.Min(MaxPropertyBytes, packed.Length - offset)));
        }

        return entity;
    }

    /// <summary>The packed data (never changed once made), for a writer to keep instead of the decoded facts.</summary>
    internal byte[] Packed => packed;

    /// <summary>An entity from packed data a writer kept (null if unreadable).</summary>
    internal static RecentHistory? FromPacked(byte[] data, ETag etag)
    {
        try
        {
            return Unpack(data, etag);
        }
        catch (Exception ex) when (ex is EndOfStreamException or InvalidDataException or ArgumentException or DecoderFallbackException or OverflowException)
        {
            return null;
        }
    }

    /// <summary>Reads a stored entity; null when its format is unknown or its data unreadable (the fact rows answer then).</summary>
    public static RecentHistory? FromEntity(TableEntity entity)
    {
        var parts = new List<ReadOnlyMemory<byte>>();
        var length = 0;
        foreach (var name in PropertyNames)
        {
            if (!entity.TryGetValue(name, out var value) || value is null)
            {
                break;
            }

            var bytes = value switch
            {
                BinaryData binary => binary.ToMemory(),
                byte[] array => array,
                _ => ReadOnlyMemory<byte>.Empty,
            };
            parts.Add(bytes);
            length += bytes.Length;
        }

        var data = new byte[length];
        var at = 0;
        foreach (var part in parts)
        {
            part.Span.CopyTo(data.AsSpan(at));
            at += part.Length;
        }

        try
        {
            return Unpack(data, entity.ETag);
        }
        catch (Exception ex) when (ex is EndOfStreamException or InvalidDataException or ArgumentException or DecoderFallbackException or OverflowException)
        {
            return null;
        }
    }

    private static RecentHistory Pack(List<(string Key, Fact Fact)> ordered, int cap, bool complete, DateTimeOffset? lastSupersededAt, ETag etag)
    {
        using var buffer = new MemoryStream();
        using var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true);
        writer.Write(FormatVersion);
        writer.Write((byte)0);
        writer.Write(lastSupersededAt?.UtcTicks ?? 0L);
        writer.Write(0);
        var count = 0;
        foreach (var (_, fact) in ordered)
        {
            if (count == cap)
            {
                break;
            }

            var mark = buffer.Length;
            WriteFact(writer, fact);
            writer.Flush();
            if (buffer.Length > MaxBytes)
            {
                buffer.SetLength(mark);
                break;
            }

            count++;
        }

        var whole = complete && count == ordered.Count;
        var bytes = buffer.ToArray();
        bytes[1] = whole ? CompleteFlag : (byte)0;
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(HeaderBytes - 4, 4), count);
        var facts = new ArchivedFact[count];
        for (var i = 0; i < count; i++)
        {
            facts[i] = new ArchivedFact(Normalized(ordered[i].Fact), null, null);
        }

        return new RecentHistory(facts, whole, lastSupersededAt, bytes, etag) { rowKeys = ordered.Take(count).Select(o => o.Key).ToArray() };
    }

    private static RecentHistory? Unpack(byte[] data, ETag etag)
    {
        if (data.Length < HeaderBytes || data[0] != FormatVersion)
        {
            return null;
        }

        using var reader = new BinaryReader(new MemoryStream(data, writable: false), Encoding.UTF8);
        reader.ReadByte();
        var flags = reader.ReadByte();
        var lastTicks = reader.ReadInt64();
        var count = reader.ReadInt32();
        if (count < 0 || count > data.Length)
        {
            throw new InvalidDataException("recent history count out of range");
        }

        var facts = new ArchivedFact[count];
        string? member = null;
        for (var i = 0; i < count; i++)
        {
            var fact = ReadFact(reader, ref member);
            facts[i] = new ArchivedFact(fact, null, null);
        }

        if (reader.BaseStream.Position != data.Length)
        {
            throw new InvalidDataException("recent history has trailing bytes");
        }

        var last = lastTicks == 0 ? (DateTimeOffset?)null : new DateTimeOffset(lastTicks, TimeSpan.Zero);
        return new RecentHistory(facts, (flags & CompleteFlag) != 0, last, data, etag);
    }

    [Flags]
    private enum Fields : byte
    {
        None = 0,
        Member = 1,
        Title = 2,
        Value = 4,
        Supersedes = 8,
        Attributes = 16,
    }

    private static void WriteFact(BinaryWriter w, Fact f)
    {
        var fields = (f.Member is null ? Fields.None : Fields.Member)
            | (f.Title is null ? Fields.None : Fields.Title)
            | (f.Value is null ? Fields.None : Fields.Value)
            | (f.Supersedes is null ? Fields.None : Fields.Supersedes)
            | (f.Attributes is null ? Fields.None : Fields.Attributes);
        w.Write(f.Kind switch
        {
            FactKind.Rating => KindRating,
            FactKind.Catalog => KindCatalog,
            FactKind.Retraction => KindRetraction,
            _ => throw new InvalidDataException($"fact '{f.Id}' has unknown kind {f.Kind}"),
        });
        w.Write((byte)fields);
        w.Write(f.Id);
        if (f.Member is { } member) { w.Write(member); }
        if (f.Title is { } title) { w.Write(title); }
        if (f.Value is { } value) { w.Write(value); }
        w.Write(f.EventTime.UtcTicks);
        w.Write(f.IngestTime.UtcTicks);
        if (f.Supersedes is { } supersedes) { w.Write(supersedes); }
        if (f.Attributes is { } attributes)
        {
            w.Write7BitEncodedInt(attributes.Count);
            foreach (var (name, text) in attributes)
            {
                w.Write(name);
                w.Write(text);
            }
        }
    }

    private static Fact ReadFact(BinaryReader r, ref string? member)
    {
        var kind = r.ReadByte() switch
        {
            KindRating => FactKind.Rating,
            KindCatalog => FactKind.Catalog,
            KindRetraction => FactKind.Retraction,
            var other => throw new InvalidDataException($"recent history has unknown kind {other}"),
        };

        var fields = (Fields)r.ReadByte();
        var id = r.ReadString();
        string? factMember = null;
        if (fields.HasFlag(Fields.Member))
        {
            var read = r.ReadString();
            factMember = string.Equals(read, member, StringComparison.Ordinal) ? member : member = read;
        }

        var title = fields.HasFlag(Fields.Title) ? r.ReadString() : null;
        double? value = fields.HasFlag(Fields.Value) ? r.ReadDouble() : null;
        var eventTime = new DateTimeOffset(r.ReadInt64(), TimeSpan.Zero);
        var ingestTime = new DateTimeOffset(r.ReadInt64(), TimeSpan.Zero);
        var supersedes = fields.HasFlag(Fields.Supersedes) ? r.ReadString() : null;
        Dictionary<string, string>? attributes = null;
        if (fields.HasFlag(Fields.Attributes))
        {
            var n = r.Read7BitEncodedInt();
            attributes = new Dictionary<string, string>(n, StringComparer.Ordinal);
            for (var i = 0; i < n; i++)
            {
                attributes[r.ReadString()] = r.ReadString();
            }
        }

        return new Fact(id, kind, factMember, title, value, eventTime, ingestTime, supersedes, attributes);
    }

    /// <summary>A fact as the table gives it back: times in UTC.</summary>
    private static Fact Normalized(Fact f) =>
        f.EventTime.Offset == TimeSpan.Zero && f.IngestTime.Offset == TimeSpan.Zero
            ? f
            : f with { EventTime = f.EventTime.ToUniversalTime(), IngestTime = f.IngestTime.ToUniversalTime() };
}
