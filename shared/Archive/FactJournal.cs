using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Serverless.Facts;

namespace Serverless.Archive;

/// <summary>One journal file: the facts one delivered batch left in the archive, landed at <see cref="LandedAt"/>.</summary>
public sealed record JournalFile(string Id, int Facts, DateTimeOffset MinIngest, DateTimeOffset MaxIngest, DateTimeOffset LandedAt)
{
    public string Blob => $"files/{Id}.jsonl.gz";
}

/// <summary>Whether the journal holds every fact of the archive (it started with the archive) or since when it runs.</summary>
public sealed record JournalStart(bool Complete, DateTimeOffset Since);

/// <summary>
/// The Online Archive's ingest journal: a bulk copy of the facts stream, landed the way the
/// Lumberjack lands the feature log. After the facts trigger has stored a delivered batch, it lands
/// one gzip'd JSON-lines blob with every fact version of the batch the archive now holds (new
/// facts, exact resends of stored ones and applied corrections; never a refused one), plus one index
/// row partitioned by the landing day. Offline jobs find what was ingested since a time T with one
/// range query of the index (<see cref="SinceAsync"/>) and read those files, instead of reading
/// every member partition through the throttled batch interface; the live tables are not touched.
/// A file's name follows its content, so a redelivered batch lands on the same blob; an index row
/// may then appear twice (readers keep one per file), and a fact resent in another batch appears in
/// two files (readers keep the first ingest time per id, as the archive does).
/// Every fact's ingest time is at or before its file's <see cref="JournalFile.LandedAt"/>, so the
/// files holding facts ingested after T are among those landed after T.
/// </summary>
public sealed class FactJournal(TableClient index, BlobContainerClient files)
{
    private const string MetaPartition = "meta";
    private const string StartRow = "start";
    private const string DayPrefix = "d";

    /// <summary>Files read at once.</summary>
    public const int ReadParallelism = 8;

    public TableClient Index => index;

    public BlobContainerClient Files => files;

    /// <summary>
    /// Creates the index and container, and records when the journal started (once): complete when
    /// the archive held no partition yet, else since <paramref name="now"/> (an archive written
    /// before the journal existed: snapshots then start from a full read of the archive).
    /// </summary>
    public async Task EnsureCreatedAsync(PartitionIndex partitions, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await index.CreateIfNotExistsAsync(cancellationToken);
        await files.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        if ((await index.GetEntityIfExistsAsync<TableEntity>(MetaPartition, StartRow, cancellationToken: cancellationToken)).HasValue)
        {
            return;
        }

        var empty = (await partitions.ListAsync(null, 1, cancellationToken)).Count == 0;
        try
        {
            await index.AddEntityAsync(new TableEntity(MetaPartition, StartRow) { ["Complete"] = empty, ["Since"] = empty ? DateTimeOffset.UnixEpoch : now }, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            // Another instance recorded it first.
        }
    }

    /// <summary>When the journal started; null when it never did (no index, or no start row).</summary>
    public async Task<JournalStart?> StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var row = await index.GetEntityIfExistsAsync<TableEntity>(MetaPartition, StartRow, cancellationToken: cancellationToken);
            return row.HasValue ? new JournalStart(row.Value!.GetBoolean("Complete") == true, row.Value.GetDateTimeOffset("Since") ?? DateTimeOffset.MaxValue) : null;
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Lands the facts a delivered batch left in the archive: one blob and one index row (nothing when there are none).</summary>
    public async Task<JournalFile?> LandAsync(IReadOnlyCollection<Fact> facts, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (facts.Count == 0)
        {
            return null;
        }

        using var content = new MemoryStream();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using (var gzip = new GZipStream(content, CompressionLevel.Fastest, leaveOpen: true))
        {
            foreach (var fact in facts)
            {
                var line = JsonSerializer.SerializeToUtf8Bytes(fact, FactJson.Options);
                sha.AppendData(line);
                gzip.Write(line);
                gzip.WriteByte((byte)'\n');
            }
        }

        var min = facts.Min(f => f.IngestTime);
        var max = facts.Max(f => f.IngestTime);
        var landedAt = now > max ? now : max;
        var file = new JournalFile(Convert.ToHexStringLower(sha.GetHashAndReset().AsSpan(0, 16)), facts.Count, min, max, landedAt);
        content.Position = 0;
        try
        {
            await files.GetBlobClient(file.Blob).UploadAsync(content, new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
        {
            // Landed before (a redelivered batch): same name, same content.
        }

        await index.UpsertEntityAsync(new TableEntity(DayPrefix + landedAt.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture), $"{landedAt.UtcTicks:D19}_{file.Id}")
        {
            ["File"] = file.Id,
            ["Facts"] = file.Facts,
            ["MinIngest"] = min,
            ["MaxIngest"] = max,
            ["LandedAt"] = landedAt,
        }, TableUpdateMode.Replace, cancellationToken);
        return file;
    }

    /// <summary>
    /// The files landed after <paramref name="after"/> (all files when null), one per file id, in
    /// landing order: one range query over the index's day partitions from that day on.
    /// </summary>
    public async Task<IReadOnlyList<JournalFile>> SinceAsync(DateTimeOffset? after, CancellationToken cancellationToken)
    {
        var from = after is { } t ? DayPrefix + t.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture) : DayPrefix;
        var filter = after is { } a
            ? TableClient.CreateQueryFilter($"PartitionKey ge {from} and PartitionKey lt {"e"} and LandedAt gt {FilterTimes.Earlier(a)}")
            : TableClient.CreateQueryFilter($"PartitionKey ge {from} and PartitionKey lt {"e"}");
        var result = new List<JournalFile>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var row in index.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            var id = row.GetString("File");
            if (after is { } exact && !(row.GetDateTimeOffset("LandedAt") > exact))
            {
                // Within the filter's margin (see FilterTimes), not after the time asked for.
                continue;
            }

            if (seen.Add(id))
            {
                result.Add(new JournalFile(id, row.GetInt32("Facts") ?? 0, row.GetDateTimeOffset("MinIngest")!.Value, row.GetDateTimeOffset("MaxIngest")!.Value, row.GetDateTimeOffset("LandedAt")!.Value));
            }
        }

        return result;
    }

    /// <summary>The facts of <paramref name="journalFiles"/>, read <see cref="ReadParallelism"/> at a time; each file's facts with the file.</summary>
    public async Task<IReadOnlyList<(JournalFile File, List<Fact> Facts)>> ReadAsync(IReadOnlyList<JournalFile> journalFiles, CancellationToken cancellationToken)
    {
        var result = new (JournalFile, List<Fact>)[journalFiles.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, journalFiles.Count), new ParallelOptions { MaxDegreeOfParallelism = ReadParallelism, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var download = await files.GetBlobClient(journalFiles[i].Blob).DownloadContentAsync(ct);
            using var gzip = new GZipStream(download.Value.Content.ToStream(), CompressionMode.Decompress);
            using var reader = new StreamReader(gzip, Encoding.UTF8);
            var facts = new List<Fact>(journalFiles[i].Facts);
            while (await reader.ReadLineAsync(ct) is { Length: > 0 } line)
            {
                facts.Add(JsonSerializer.Deserialize<Fact>(line, FactJson.Options) ?? throw new InvalidDataException($"journal file {journalFiles[i].Id} has an empty line"));
            }

            result[i] = (journalFiles[i], facts);
        });
        return result;
    }
}
