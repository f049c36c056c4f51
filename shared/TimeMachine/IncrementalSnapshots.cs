using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Serverless.Archive;
using Serverless.Facts;

namespace Serverless.TimeMachine;

/// <summary>How a snapshot was cut: the previous snapshot plus the journal since, all of the journal, or a full read of the archive.</summary>
public static class SnapshotSources
{
    public const string Incremental = "incremental";
    public const string Journal = "journal";
    public const string Archive = "archive";
}

/// <summary>
/// What a fact snapshot needs to be the base of the next one, stored beside it
/// (<c>facts-{ticks}.manifest.json</c>): its watermark, how it was cut, the ids of versions that
/// were no longer current at the watermark (superseded or retracted: a late copy of one must not
/// come back), and the journal files landed after the watermark whose facts up to it were taken
/// (<see cref="Consumed"/>: the next increment takes only their later facts). <see cref="Archive"/>
/// names the archive (its facts table): an increment starts only from a snapshot of the same archive.
/// </summary>
public sealed record SnapshotManifest(
    string Archive,
    string Snapshot,
    DateTimeOffset Watermark,
    string Source,
    string? Base,
    DateTimeOffset CutAt,
    int Facts,
    IReadOnlyList<string> Retired,
    IReadOnlyList<string> Consumed,
    int JournalFilesRead,
    int JournalFactsRead,
    int ArchiveFactsRead);

/// <summary>A cut snapshot: its current facts (in the archive's order) and its manifest.</summary>
public sealed record SnapshotCut(List<Fact> Facts, SnapshotManifest Manifest);

/// <summary>
/// Cuts fact snapshots whose cost follows what changed. A snapshot at W is every fact version
/// current at W (ingest time &lt;= W, not superseded by a correction ingested by W, not a
/// retraction), in the archive's order (partition, then row key), exactly what a full read of the
/// archive's batch interface as of W returns. Three ways, cheapest first (<see cref="CutAsync"/>):
/// <list type="number">
/// <item>Incremental: the newest earlier snapshot plus the ingest journal's files landed since its
/// watermark (one index query, no partition scan; <see cref="FactJournal"/>).</item>
/// <item>From the journal alone, when it started with the archive (a bulk copy of the facts stream).</item>
/// <item>A full read through the throttled batch interface (an archive written before the journal existed).</item>
/// </list>
/// Late arrivals (facts ingested at or before a watermark that landed after the snapshot was cut),
/// corrections and retractions are handled: tests compare every way with a full read of the archive
/// on randomized facts (<c>IncrementalSnapshotTests</c>).
/// </summary>
public sealed class IncrementalSnapshots(ArchiveReader reader, ArchiveTables tables, FactSnapshotStore store, TimeProvider time)
{
    public static string ManifestName(DateTimeOffset watermark) => $"facts-{watermark.UtcTicks:D19}.manifest.json";

    /// <summary>The store the snapshots are saved in.</summary>
    public FactSnapshotStore Store => store;

    /// <summary>Cuts a snapshot at <paramref name="watermark"/> the cheapest way the archive allows, and saves it with its manifest.</summary>
    public async Task<SnapshotCut> CutAsync(DateTimeOffset watermark, IProgress<long>? archiveFactsRead, CancellationToken cancellationToken)
    {
        var cutAt = time.GetUtcNow();
        if (await CutFromJournalAsync(watermark, cutAt, cancellationToken) is { } cheap)
        {
            return cheap;
        }

        var cut = await FromArchiveAsync(watermark, cutAt, archiveFactsRead, cancellationToken);
        await SaveAsync(cut, cancellationToken);
        return cut;
    }

    /// <summary>
    /// Cuts a snapshot at <paramref name="watermark"/> and saves it with its manifest when the ingest
    /// journal allows it (incrementally from an earlier snapshot, or from the journal alone); null when
    /// only a full read of the archive could (an archive written before its journal started, without a
    /// snapshot cut since): callers that would rather read what they need some other way than pay for
    /// the full read (the context snapshotter) take null as that answer.
    /// </summary>
    public Task<SnapshotCut?> CutFromJournalAsync(DateTimeOffset watermark, CancellationToken cancellationToken) =>
        CutFromJournalAsync(watermark, time.GetUtcNow(), cancellationToken);

    private async Task<SnapshotCut?> CutFromJournalAsync(DateTimeOffset watermark, DateTimeOffset cutAt, CancellationToken cancellationToken)
    {
        var start = await tables.Journal.StartAsync(cancellationToken);
        SnapshotCut cut;
        if (start is not null && await PreviousAsync(watermark, cancellationToken) is { } previous && (start.Complete || start.Since <= previous.CutAt))
        {
            cut = await IncrementalAsync(previous, watermark, cutAt, cancellationToken);
        }
        else if (start is { Complete: true })
        {
            cut = await FromJournalAsync(watermark, cutAt, cancellationToken);
        }
        else
        {
            return null;
        }

        await SaveAsync(cut, cancellationToken);
        return cut;
    }

    /// <summary>Saves the snapshot and, beside it, its manifest (the snapshot first: a manifest never names a missing snapshot).</summary>
    public async Task SaveAsync(SnapshotCut cut, CancellationToken cancellationToken)
    {
        await store.SaveAsync(cut.Facts, cut.Manifest.Watermark, cancellationToken);
        var container = store.Blobs;
        await container.GetBlobClient(ManifestName(cut.Manifest.Watermark)).UploadAsync(
            new BinaryData(JsonSerializer.SerializeToUtf8Bytes(cut.Manifest, FactJson.Options)), overwrite: true, cancellationToken);
    }

    /// <summary>The manifest of the newest snapshot at or before <paramref name="watermark"/>, or null.</summary>
    public async Task<SnapshotManifest?> PreviousAsync(DateTimeOffset watermark, CancellationToken cancellationToken)
    {
        var container = store.Blobs;
        var names = new List<string>();
        try
        {
            await foreach (var blob in container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, "facts-", cancellationToken))
            {
                if (blob.Name.EndsWith(".manifest.json", StringComparison.Ordinal) && string.CompareOrdinal(blob.Name, ManifestName(watermark)) <= 0)
                {
                    names.Add(blob.Name);
                }
            }
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }

        // Newest first; a manifest of another archive sharing the account is passed over.
        names.Sort(StringComparer.Ordinal);
        for (var i = names.Count - 1; i >= 0; i--)
        {
            var content = await container.GetBlobClient(names[i]).DownloadContentAsync(cancellationToken);
            var manifest = JsonSerializer.Deserialize<SnapshotManifest>(content.Value.Content.ToMemory().Span, FactJson.Options);
            if (manifest is not null && manifest.Archive == tables.Facts.Name && await store.ExistsAsync(manifest.Snapshot, cancellationToken))
            {
                return manifest;
            }
        }

        return null;
    }

    /// <summary>A full read of the archive through its throttled batch interface (every version known at W, then split into current and retired).</summary>
    public async Task<SnapshotCut> FromArchiveAsync(DateTimeOffset watermark, DateTimeOffset cutAt, IProgress<long>? factsRead, CancellationToken cancellationToken)
    {
        // Files landed after W before the read starts hold rows the read sees: their facts up to W are in this snapshot.
        var landedAfter = await tables.Journal.SinceAsync(watermark, cancellationToken);
        var rows = await reader.ReadAllAsync(new BatchQuery(null, null, null, null, null, watermark, true, 1000, null), factsRead, cancellationToken);
        var current = new List<Fact>(rows.Count);
        var retired = new List<string>();
        foreach (var row in rows)
        {
            if (row.IsCurrentAsOf(watermark)) { current.Add(row.Fact); }
            else { retired.Add(row.Fact.Id); }
        }

        retired.Sort(StringComparer.Ordinal);

        return new SnapshotCut(current, new SnapshotManifest(
            tables.Facts.Name, FactSnapshotStore.BlobName(watermark), watermark, SnapshotSources.Archive, null, cutAt, current.Count, retired,
            landedAfter.Select(f => f.Id).ToList(), 0, 0, rows.Count));
    }

    /// <summary>Every journal file (the journal started with the archive, so it holds every stored version).</summary>
    public async Task<SnapshotCut> FromJournalAsync(DateTimeOffset watermark, DateTimeOffset cutAt, CancellationToken cancellationToken)
    {
        var files = await tables.Journal.SinceAsync(null, cancellationToken);
        var read = await tables.Journal.ReadAsync(files, cancellationToken);
        var (current, retired) = Merge([], [], read, null, new HashSet<string>(StringComparer.Ordinal), watermark);
        return new SnapshotCut(current, new SnapshotManifest(
            tables.Facts.Name, FactSnapshotStore.BlobName(watermark), watermark, SnapshotSources.Journal, null, cutAt, current.Count, retired,
            files.Where(f => f.LandedAt > watermark).Select(f => f.Id).ToList(), files.Count, read.Sum(r => r.Facts.Count), 0));
    }

    /// <summary>The previous snapshot plus the journal files landed after its watermark.</summary>
    public async Task<SnapshotCut> IncrementalAsync(SnapshotManifest previous, DateTimeOffset watermark, DateTimeOffset cutAt, CancellationToken cancellationToken)
    {
        if (previous.Watermark > watermark)
        {
            throw new ArgumentException($"snapshot {previous.Snapshot} is later than {watermark:O}; an increment goes forward", nameof(previous));
        }

        var baseFacts = await store.LoadAsync(previous.Snapshot, cancellationToken);
        var files = await tables.Journal.SinceAsync(previous.Watermark, cancellationToken);
        var read = await tables.Journal.ReadAsync(files, cancellationToken);
        var (current, retired) = Merge(baseFacts, previous.Retired, read, previous.Watermark, previous.Consumed.ToHashSet(StringComparer.Ordinal), watermark);
        return new SnapshotCut(current, new SnapshotManifest(
            tables.Facts.Name, FactSnapshotStore.BlobName(watermark), watermark, SnapshotSources.Incremental, previous.Snapshot, cutAt, current.Count, retired,
            files.Where(f => f.LandedAt > watermark).Select(f => f.Id).ToList(), files.Count, read.Sum(r => r.Facts.Count), 0));
    }

    /// <summary>
    /// The versions current at <paramref name="watermark"/>: the base's current facts, plus the
    /// journal's facts ingested after <paramref name="after"/> and by the watermark, plus those
    /// ingested earlier in files the base did not consume (late arrivals); a version seen before
    /// (by id: current or retired in the base, or an earlier copy) is taken once, with its first
    /// ingest time, as the archive keeps it; a correction retires what it supersedes, a retraction
    /// retires itself too. Ordered as the archive's batch interface reads (partition, row key).
    /// </summary>
    public static (List<Fact> Current, List<string> Retired) Merge(
        IReadOnlyList<Fact> baseFacts, IReadOnlyList<string> baseRetired, IReadOnlyList<(JournalFile File, List<Fact> Facts)> journal,
        DateTimeOffset? after, IReadOnlySet<string> consumed, DateTimeOffset watermark)
    {
        var current = new Dictionary<string, Fact>(baseFacts.Count, StringComparer.Ordinal);
        foreach (var f in baseFacts)
        {
            current[f.Id] = f;
        }

        var retired = new HashSet<string>(baseRetired, StringComparer.Ordinal);
        var added = new Dictionary<string, Fact>(StringComparer.Ordinal);
        foreach (var (file, facts) in journal)
        {
            var late = !consumed.Contains(file.Id);
            foreach (var f in facts)
            {
                if (f.IngestTime > watermark || (after is { } a && f.IngestTime <= a && !late) || current.ContainsKey(f.Id) || retired.Contains(f.Id))
                {
                    continue;
                }

                if (!added.TryGetValue(f.Id, out var seen) || f.IngestTime < seen.IngestTime)
                {
                    added[f.Id] = f;
                }
            }
        }

        foreach (var f in added.Values)
        {
            if (f.Supersedes is { } target) { retired.Add(target); }
            if (f.Kind == FactKind.Retraction) { retired.Add(f.Id); }
        }

        foreach (var f in added.Values)
        {
            current[f.Id] = f;
        }

        foreach (var id in retired)
        {
            current.Remove(id);
        }

        var ordered = current.Values
            .Select(f => (Fact: f, Partition: f.PartitionKey, Row: FactRows.RowKey(f)))
            .OrderBy(x => x.Partition, StringComparer.Ordinal).ThenBy(x => x.Row, StringComparer.Ordinal)
            .Select(x => x.Fact).ToList();
        var retiredList = retired.ToList();
        retiredList.Sort(StringComparer.Ordinal);
        return (ordered, retiredList);
    }
}
