using System.IO.Compression;
using System.Text.Json;
using Azure.Storage.Blobs;
using Serverless.Archive;
using Serverless.Facts;

namespace Serverless.TimeMachine;

/// <summary>
/// The Time Machine's snapshot: every fact known at a watermark W (ingest time &lt;= W), as
/// gzipped JSON lines in a blob. Whatever is computed from it (catalog, title statistics,
/// training features) is recomputed by the same code from the same facts, online or offline.
/// </summary>
public sealed class FactSnapshotStore(BlobServiceClient blobs)
{
    public const string Container = "snapshots";

    /// <summary>The snapshots' container (snapshots and, beside incremental ones, their manifests).</summary>
    public BlobContainerClient Blobs => blobs.GetBlobContainerClient(Container);

    public static string BlobName(DateTimeOffset watermark) => $"facts-{watermark.UtcTicks:D19}.jsonl.gz";

    /// <summary>Reads every current fact as of <paramref name="watermark"/> through the archive's batch interface.</summary>
    public static Task<List<Fact>> ReadArchiveAsync(ArchiveReader reader, DateTimeOffset watermark, CancellationToken cancellationToken) =>
        ReadArchiveAsync(reader, watermark, null, cancellationToken);

    /// <summary>Reads every current fact as of <paramref name="watermark"/>, reporting how many were read so far after each page.</summary>
    public static async Task<List<Fact>> ReadArchiveAsync(ArchiveReader reader, DateTimeOffset watermark, IProgress<long>? factsRead, CancellationToken cancellationToken) =>
        (await reader.ReadAllAsync(new BatchQuery(null, null, null, null, null, watermark, false, 1000, null), factsRead, cancellationToken)).Select(f => f.Fact).ToList();

    /// <summary>Saves a snapshot; returns its blob name (the dependency a model manifest names).</summary>
    public async Task<string> SaveAsync(IEnumerable<Fact> facts, DateTimeOffset watermark, CancellationToken cancellationToken)
    {
        var container = blobs.GetBlobContainerClient(Container);
        await container.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        using var buffer = new MemoryStream();
        await using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            foreach (var fact in facts.Where(f => f.IngestTime <= watermark))
            {
                JsonSerializer.Serialize(gzip, fact, FactJson.Options);
                gzip.WriteByte((byte)'\n');
            }
        }

        buffer.Position = 0;
        var name = BlobName(watermark);
        await container.GetBlobClient(name).UploadAsync(buffer, overwrite: true, cancellationToken);
        return name;
    }

    public async Task<bool> ExistsAsync(string name, CancellationToken cancellationToken) =>
        (await blobs.GetBlobContainerClient(Container).GetBlobClient(name).ExistsAsync(cancellationToken)).Value;

    public async Task<List<Fact>> LoadAsync(string name, CancellationToken cancellationToken)
    {
        var download = await blobs.GetBlobContainerClient(Container).GetBlobClient(name).DownloadStreamingAsync(cancellationToken: cancellationToken);
        await using var gzip = new GZipStream(download.Value.Content, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        var facts = new List<Fact>();
        while (await reader.ReadLineAsync(cancellationToken) is { Length: > 0 } line)
        {
            facts.Add(JsonSerializer.Deserialize<Fact>(line, FactJson.Options) ?? throw new InvalidDataException($"snapshot {name} has an empty line"));
        }

        return facts;
    }
}
