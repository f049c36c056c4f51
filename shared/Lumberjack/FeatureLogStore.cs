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
using Microsoft.Extensions.Options;
using Serverless.Archive;
using Serverless.Events;
using Serverless.Facts;

namespace Serverless.Lumberjack;

/// <summary>What one feature-log batch did: requests and impressions landed, files written, events dead-lettered.</summary>
public sealed record FeatureLogIngestResult(int Requests, int Impressions, int Files, int AlreadyLanded, int DeadLettered);

/// <summary>A logged impression with its label, as landed (label null while its horizon is open or it was not labelled yet).</summary>
public sealed record LoggedImpression(FeatureLogRecord Record, bool? Label, string? LabelFactId);

/// <summary>
/// One landed file: the requests of one delivered batch whose request time falls in one hour. Open
/// files may still get (or change) labels; final ones left the late window with their labels fixed.
/// </summary>
public sealed record LandedFile(
    string Id,
    int Requests,
    int Impressions,
    DateTimeOffset MinRequestTime,
    DateTimeOffset MaxRequestTime,
    DateTimeOffset LandedAt,
    DateTimeOffset? LabelledAt,
    bool Final,
    bool Gzip = false)
{
    /// <summary>The hour folder of the file's requests: yyyy/MM/dd/HH.</summary>
    public string HourPath => $"{Id[..4]}/{Id[4..6]}/{Id[6..8]}/{Id[8..10]}";

    /// <summary>
    /// The requests as landed: plain JSON lines. Files landed before the landing stopped compressing
    /// (their index row has no <c>Gzip</c> property, or it is true) keep their gzip'd name.
    /// </summary>
    public string RequestsBlob => $"{FeatureLogStore.RequestsFolder}/{HourPath}/{Id}{(Gzip ? ".jsonl.gz" : ".jsonl")}";

    public string LabelsBlob => $"{FeatureLogStore.LabelsFolder}/{HourPath}/{Id}.jsonl.gz";
}

/// <summary>One landed request: its impressions (one record per scored candidate, in position order).</summary>
public sealed record LandedRequest(string LogId, string Member, DateTimeOffset RequestTime, IReadOnlyList<FeatureLogRecord> Records);

/// <summary>The labels of one landed request, aligned with its records.</summary>
public sealed record RequestLabels(string LogId, bool[] Labels, string[] FactIds);

/// <summary>
/// The Lumberjack's landing: logged requests land in bulk, one JSON-lines blob per delivered
/// batch and hour of request time (each line one feature-log event exactly as published, so any
/// reader parses it with <see cref="FeatureLogEvent.Parse"/>), plus one index row per file. The
/// requests are not compressed: feature vectors travel as base64 floats, which gzip shrinks by only
/// ~30% at five times the CPU of validating them, and landing must keep up with serving. Landing
/// cost follows requests, not impressions: a batch of 500 requests of 100 candidates is one blob
/// write and one row, where a row per impression was 50,000 rows.
/// Landing is at-least-once: a redelivered batch lands on the same blob name (derived from its
/// content) and is kept as it is; a batch that arrives again with other boundaries may repeat a
/// request in two files, and every reader keeps one copy per log id (the first file in name order).
/// Labels are written beside each file by <see cref="LabelJoiner"/>.
/// </summary>
public sealed class FeatureLogStore
{
    public const string DeadLetterSource = "feature-log";
    public const string RequestsFolder = "requests";
    public const string LabelsFolder = "labels";
    public const string OpenPartition = "open";
    public const string FinalPartition = "final";

    /// <summary>Files read at once by offline readers.</summary>
    public const int ReadParallelism = 8;

    private readonly TimeProvider time;
    private readonly DeadLetterStore deadLetters;

    public FeatureLogStore(TableServiceClient tables, BlobServiceClient blobs, IOptions<ArchiveOptions> archive, ArchiveTables archiveTables, TimeProvider time)
    {
        this.time = time;
        Files = tables.GetTableClient(archive.Value.TablePrefix + "featurelogfiles");
        Container = blobs.GetBlobContainerClient((archive.Value.TablePrefix + "featurelog").ToLowerInvariant());
        deadLetters = archiveTables.DeadLetters;
    }

    /// <summary>Final files read before, kept in memory (see <see cref="FinalFileCache"/>).</summary>
    public FinalFileCache Finals { get; } = new();

    /// <summary>The index: one row per landed file (partition "open" until its labels are final, then "final").</summary>
    public TableClient Files { get; }

    /// <summary>The landed files and their labels.</summary>
    public BlobContainerClient Container { get; }

    public async Task EnsureCreatedAsync(CancellationToken cancellationToken = default)
    {
        await Files.CreateIfNotExistsAsync(cancellationToken);
        await Container.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Lands one delivered batch: valid events grouped by the hour of their request time, one file per
    /// group; malformed events go to the dead-letter table with their reason, the rest is kept.
    /// </summary>
    public async Task<FeatureLogIngestResult> IngestAsync(IReadOnlyList<IncomingEvent> events, CancellationToken cancellationToken = default)
    {
        var rejected = new List<(DeadLetter, string)>();
        var valid = new List<(IncomingEvent Event, FeatureLogHeader Header)>(events.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            var (header, error) = FeatureLogEvent.Check(e.Body.Span);
            if (header is null)
            {
                rejected.Add(DeadLetterStore.Letter(DeadLetterSource, e, error!, time.GetUtcNow()));
            }
            else if (seen.Add(header.LogId))
            {
                valid.Add((e, header));
            }
        }

        int requests = 0, impressions = 0, files = 0, already = 0;
        foreach (var hour in valid.GroupBy(v => HourOf(v.Header.RequestTime)))
        {
            var group = hour.ToList();
            var landed = await LandAsync(hour.Key, group, cancellationToken);
            files++;
            if (!landed)
            {
                already++;
            }

            requests += group.Count;
            impressions += group.Sum(g => g.Header.Items);
        }

        if (rejected.Count > 0)
        {
            await deadLetters.WriteAsync(rejected, cancellationToken);
        }

        return new FeatureLogIngestResult(requests, impressions, files, already, rejected.Count);
    }

    private static DateTimeOffset HourOf(DateTimeOffset t) => new(t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerHour, TimeSpan.Zero);

    /// <summary>Writes one file and its index row; false when the same file had landed before (a redelivery).</summary>
    private async Task<bool> LandAsync(DateTimeOffset hour, List<(IncomingEvent Event, FeatureLogHeader Header)> group, CancellationToken cancellationToken)
    {
        var min = group.Min(g => g.Header.RequestTime);
        var max = group.Max(g => g.Header.RequestTime);

        // The name follows the content: the same batch delivered again lands on the same blob.
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (_, header) in group)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(header.LogId));
            sha.AppendData("\n"u8);
        }

        var id = string.Create(CultureInfo.InvariantCulture, $"{hour:yyyyMMddHH}_{min.UtcTicks:D19}_{Convert.ToHexStringLower(sha.GetHashAndReset().AsSpan(0, 8))}");
        var file = new LandedFile(id, group.Count, group.Sum(g => g.Header.Items), min, max, time.GetUtcNow(), null, false);

        // The delivered bytes go out as they are, one event per line, without being copied into one buffer.
        await using var content = new JsonLinesContent(group.Count);
        foreach (var (e, _) in group)
        {
            content.Add(e.Body);
        }

        var landed = await TryUploadAsync(file.RequestsBlob, content, gzip: false, new BlobRequestConditions { IfNoneMatch = ETag.All }, cancellationToken);

        // A redelivery after the file's labels became final must not reopen it.
        if (landed || !(await Files.GetEntityIfExistsAsync<TableEntity>(FinalPartition, id, cancellationToken: cancellationToken)).HasValue)
        {
            await Files.UpsertEntityAsync(ToEntity(file), TableUpdateMode.Merge, cancellationToken);
        }

        return landed;
    }

    private static TableEntity ToEntity(LandedFile f) => new(f.Final ? FinalPartition : OpenPartition, f.Id)
    {
        [nameof(LandedFile.Requests)] = f.Requests,
        [nameof(LandedFile.Impressions)] = f.Impressions,
        [nameof(LandedFile.MinRequestTime)] = f.MinRequestTime,
        [nameof(LandedFile.MaxRequestTime)] = f.MaxRequestTime,
        [nameof(LandedFile.LandedAt)] = f.LandedAt,
        [nameof(LandedFile.LabelledAt)] = f.LabelledAt,
        [nameof(LandedFile.Gzip)] = f.Gzip,
    };

    private static LandedFile FromEntity(TableEntity e) => new(
        e.RowKey,
        e.GetInt32(nameof(LandedFile.Requests)) ?? 0,
        e.GetInt32(nameof(LandedFile.Impressions)) ?? 0,
        e.GetDateTimeOffset(nameof(LandedFile.MinRequestTime)) ?? default,
        e.GetDateTimeOffset(nameof(LandedFile.MaxRequestTime)) ?? default,
        e.GetDateTimeOffset(nameof(LandedFile.LandedAt)) ?? default,
        e.GetDateTimeOffset(nameof(LandedFile.LabelledAt)),
        e.PartitionKey == FinalPartition,
        e.GetBoolean(nameof(LandedFile.Gzip)) ?? true);

    /// <summary>Landed files: the open ones only, or all; in name order (hour, then first request time).</summary>
    public async Task<List<LandedFile>> ListAsync(bool openOnly, CancellationToken cancellationToken)
    {
        var filter = openOnly
            ? TableClient.CreateQueryFilter($"PartitionKey eq {OpenPartition}")
            : TableClient.CreateQueryFilter($"PartitionKey eq {OpenPartition} or PartitionKey eq {FinalPartition}");
        var files = new List<LandedFile>();
        await foreach (var row in Files.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            files.Add(FromEntity(row));
        }

        // A file caught between "open" and "final" by a concurrent label run appears once.
        return files.GroupBy(f => f.Id).Select(g => g.OrderByDescending(f => f.Final).First())
            .OrderBy(f => f.Id, StringComparer.Ordinal).ToList();
    }

    /// <summary>The requests of one landed file, in landing order. A line that no longer parses is an error (files are written only from validated events).</summary>
    public async Task<List<LandedRequest>> ReadRequestsAsync(LandedFile file, CancellationToken cancellationToken)
    {
        var requests = new List<LandedRequest>(file.Requests);
        foreach (var line in await ReadLinesAsync(file.RequestsBlob, cancellationToken) ?? throw new InvalidDataException($"landed file {file.RequestsBlob} is missing"))
        {
            var (records, error) = FeatureLogEvent.Parse(line.Span);
            if (records is null)
            {
                throw new InvalidDataException($"landed file {file.RequestsBlob} holds an unreadable request: {error}");
            }

            requests.Add(new LandedRequest(records[0].LogId, records[0].Member, records[0].RequestTime, records));
        }

        return requests;
    }

    /// <summary>The labels written for a file (with the blob's ETag, for a guarded rewrite), or null when it has none yet.</summary>
    public async Task<(Dictionary<string, RequestLabels> Labels, ETag ETag)?> ReadLabelsAsync(LandedFile file, CancellationToken cancellationToken)
    {
        var blob = Container.GetBlobClient(file.LabelsBlob);
        BlobDownloadResult content;
        try
        {
            content = (await blob.DownloadContentAsync(cancellationToken)).Value;
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
        {
            return null;
        }

        var labels = new Dictionary<string, RequestLabels>(StringComparer.Ordinal);
        foreach (var line in Lines(content.Content))
        {
            var parsed = JsonSerializer.Deserialize<RequestLabels>(line.Span, FactJson.Options)
                ?? throw new InvalidDataException($"labels file {file.LabelsBlob} holds an empty line");
            labels[parsed.LogId] = parsed;
        }

        return (labels, content.Details.ETag);
    }

    /// <summary>
    /// Writes a file's labels, guarded: only over the version read (<paramref name="previous"/>), or
    /// only if none exists. False when another run wrote them meanwhile (its labels stand).
    /// </summary>
    public async Task<bool> WriteLabelsAsync(LandedFile file, IEnumerable<RequestLabels> labels, ETag? previous, CancellationToken cancellationToken)
    {
        using var content = new MemoryStream();
        using (var gzip = new GZipStream(content, CompressionLevel.Fastest, leaveOpen: true))
        using (var writer = new Utf8JsonWriter(gzip))
        {
            foreach (var request in labels)
            {
                JsonSerializer.Serialize(writer, request, FactJson.Options);
                writer.Flush();
                writer.Reset();
                gzip.WriteByte((byte)'\n');
            }
        }

        return await TryUploadAsync(file.LabelsBlob,
            content, gzip: true, previous is { } etag ? new BlobRequestConditions { IfMatch = etag } : new BlobRequestConditions { IfNoneMatch = ETag.All }, cancellationToken);
    }

    /// <summary>Writes JSON lines (gzip'd or plain) under a condition; false when the condition failed (the blob exists, or changed since it was read).</summary>
    private async Task<bool> TryUploadAsync(string blobName, Stream content, bool gzip, BlobRequestConditions conditions, CancellationToken cancellationToken)
    {
        content.Position = 0;
        try
        {
            await Container.GetBlobClient(blobName).UploadAsync(content, new BlobUploadOptions
            {
                Conditions = conditions,
                HttpHeaders = new BlobHttpHeaders { ContentType = "application/x-ndjson", ContentEncoding = gzip ? "gzip" : null },
            }, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
        {
            return false;
        }
    }

    /// <summary>
    /// Marks files labelled at <paramref name="at"/>, their index rows written in entity-group
    /// transactions (<see cref="Storage.TableBatches"/>) instead of requests per file: first every row
    /// in its partition (final or open), then the open rows of the final ones deleted. A file caught
    /// between the two appears once (<see cref="ListAsync"/> keeps the final row); an open row a
    /// concurrent run deleted already is fine.
    /// </summary>
    public async Task MarkLabelledAsync(IReadOnlyList<(LandedFile File, bool Final)> files, DateTimeOffset at, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        await Storage.TableBatches.UpsertMergeAsync(Files, files.Select(f => ToEntity(f.File with { LabelledAt = at, Final = f.Final })), cancellationToken);
        await Storage.TableBatches.DeleteAsync(Files, OpenPartition, files.Where(f => f.Final).Select(f => f.File.Id), cancellationToken);
    }

    /// <summary>
    /// Every landed impression with its label (null where not labelled yet), one copy per log id
    /// (the first file in name order keeps it).
    /// </summary>
    public async Task<List<LoggedImpression>> ReadAsync(Func<LandedFile, bool>? files = null, CancellationToken cancellationToken = default)
    {
        var chosen = (await ListAsync(openOnly: false, cancellationToken)).Where(f => files is null || files(f)).ToList();
        var read = new (List<LandedRequest> Requests, Dictionary<string, RequestLabels>? Labels)[chosen.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, chosen.Count), new ParallelOptions { MaxDegreeOfParallelism = ReadParallelism, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var file = chosen[i];
            if (file.Final && Finals.TryGet(file.Id, out var kept))
            {
                read[i] = (kept.Requests, kept.Labels);
                return;
            }

            read[i] = (await ReadRequestsAsync(file, ct), file.LabelledAt is null ? null : (await ReadLabelsAsync(file, ct))?.Labels);
            if (file.Final)
            {
                Finals.Keep(file.Id, new FinalFileCache.Entry(read[i].Requests, read[i].Labels));
            }
        });

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var impressions = new List<LoggedImpression>();
        foreach (var (requests, labels) in read)
        {
            foreach (var request in requests)
            {
                if (!seen.Add(request.LogId))
                {
                    continue;
                }

                var label = labels?.GetValueOrDefault(request.LogId);
                for (var i = 0; i < request.Records.Count; i++)
                {
                    impressions.Add(label is null || label.Labels.Length != request.Records.Count
                        ? new LoggedImpression(request.Records[i], null, null)
                        : new LoggedImpression(request.Records[i], label.Labels[i], label.FactIds[i] is { Length: > 0 } id ? id : null));
                }
            }
        }

        return impressions;
    }

    /// <summary>Every labelled impression logged with <paramref name="configHash"/> (a training set of what was served).</summary>
    public async Task<List<LoggedImpression>> LabelledAsync(string configHash, CancellationToken cancellationToken) =>
        (await ReadAsync(f => f.LabelledAt is not null, cancellationToken)).Where(i => i.Label is not null && i.Record.ConfigHash == configHash).ToList();

    private async Task<List<ReadOnlyMemory<byte>>?> ReadLinesAsync(string blobName, CancellationToken cancellationToken)
    {
        try
        {
            var content = (await Container.GetBlobClient(blobName).DownloadContentAsync(cancellationToken)).Value.Content;
            return Lines(content);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>The non-empty lines of a blob, gzip'd (it starts with the gzip magic, which JSON never does) or plain.</summary>
    private static List<ReadOnlyMemory<byte>> Lines(BinaryData data)
    {
        var all = data.ToMemory();
        if (all.Span is [0x1f, 0x8b, ..])
        {
            using var gzip = new GZipStream(data.ToStream(), CompressionMode.Decompress);
            using var plain = new MemoryStream();
            gzip.CopyTo(plain);
            all = plain.GetBuffer().AsMemory(0, (int)plain.Length);
        }

        var lines = new List<ReadOnlyMemory<byte>>();
        while (all.Length > 0)
        {
            var end = all.Span.IndexOf((byte)'\n');
            var line = end < 0 ? all : all[..end];
            if (line.Length > 0)
            {
                lines.Add(line);
            }

            all = end < 0 ? ReadOnlyMemory<byte>.Empty : all[(end + 1)..];
        }

        return lines;
    }
}
