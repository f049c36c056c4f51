using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace Serverless.Precompute;

/// <summary>
/// The files of derived-data versions: container "derived", blobs
/// <c>{dataset}/{version}/part-{p}.json.gz</c> (one per key partition, gzipped JSON arrays),
/// <c>{dataset}/{version}/{name}.json</c> (extras such as genre popularity) and
/// <c>{dataset}/{version}/manifest.json</c> (the version's manifest, written when it is published).
/// A version's files never change once it is published; a retried partition overwrites only its own file.
/// </summary>
public sealed class DerivedDataStore(BlobServiceClient blobs, string containerName = DerivedDataStore.DefaultContainer)
{
    public const string DefaultContainer = "derived";

    private readonly BlobContainerClient container = blobs.GetBlobContainerClient(containerName);

    public async Task EnsureCreatedAsync(CancellationToken cancellationToken = default) =>
        await container.CreateIfNotExistsAsync(cancellationToken: cancellationToken);

    public static string PartPath(string dataset, string version, int partition) =>
        string.Create(CultureInfo.InvariantCulture, $"{dataset}/{version}/part-{partition:D4}.json.gz");

    public static string FilePath(string dataset, string version, string name) => $"{dataset}/{version}/{name}.json";

    /// <summary>Writes one partition's entries (overwriting an earlier attempt of the same partition).</summary>
    public async Task WritePartAsync<T>(string dataset, string version, int partition, IReadOnlyList<T> entries, CancellationToken cancellationToken = default)
    {
        using var buffer = new MemoryStream();
        await using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            await JsonSerializer.SerializeAsync(gzip, entries, DerivedJson.Options, cancellationToken);
        }

        buffer.Position = 0;
        await container.GetBlobClient(PartPath(dataset, version, partition)).UploadAsync(buffer, overwrite: true, cancellationToken);
    }

    /// <summary>Reads one partition's entries; throws <see cref="InvalidDataException"/> when the file is missing.</summary>
    public async Task<List<T>> ReadPartAsync<T>(string dataset, string version, int partition, CancellationToken cancellationToken = default)
    {
        try
        {
            var download = await container.GetBlobClient(PartPath(dataset, version, partition)).DownloadStreamingAsync(cancellationToken: cancellationToken);
            await using var gzip = new GZipStream(download.Value.Content, CompressionMode.Decompress);
            return await JsonSerializer.DeserializeAsync<List<T>>(gzip, DerivedJson.Options, cancellationToken) ?? [];
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
        {
            throw new InvalidDataException($"{dataset} version {version} has no partition {partition} (removed, or never completed)", ex);
        }
    }

    /// <summary>Reads every partition of a version (in partition order).</summary>
    public async Task<List<T>> ReadAllAsync<T>(DerivedVersion version, CancellationToken cancellationToken = default)
    {
        var parts = await Task.WhenAll(Enumerable.Range(0, version.Partitions).Select(p => ReadPartAsync<T>(version.Dataset, version.Version, p, cancellationToken)));
        return parts.SelectMany(p => p).ToList();
    }

    public async Task WriteFileAsync<T>(string dataset, string version, string name, T value, CancellationToken cancellationToken = default) =>
        await container.GetBlobClient(FilePath(dataset, version, name)).UploadAsync(BinaryData.FromObjectAsJson(value, DerivedJson.Options), overwrite: true, cancellationToken);

    public async Task<T?> ReadFileAsync<T>(string dataset, string version, string name, CancellationToken cancellationToken = default)
    {
        try
        {
            var content = await container.GetBlobClient(FilePath(dataset, version, name)).DownloadContentAsync(cancellationToken);
            return content.Value.Content.ToObjectFromJson<T>(DerivedJson.Options);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
        {
            return default;
        }
    }

    /// <summary>Writes the version's manifest (what it is, from what, counts) beside its files.</summary>
    public Task WriteManifestAsync(DerivedVersion version, CancellationToken cancellationToken = default) =>
        WriteFileAsync(version.Dataset, version.Version, "manifest", version, cancellationToken);

    /// <summary>Deletes every file of a version; returns how many were deleted.</summary>
    public async Task<int> DeleteVersionAsync(string dataset, string version, CancellationToken cancellationToken = default)
    {
        var deleted = 0;
        await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, $"{dataset}/{version}/", cancellationToken))
        {
            await container.DeleteBlobIfExistsAsync(blob.Name, cancellationToken: cancellationToken);
            deleted++;
        }

        return deleted;
    }

    /// <summary>Whether a version's files are there (its first partition exists).</summary>
    public async Task<bool> ExistsAsync(string dataset, string version, CancellationToken cancellationToken = default) =>
        (await container.GetBlobClient(PartPath(dataset, version, 0)).ExistsAsync(cancellationToken)).Value;
}

/// <summary>Creates the derived-data table and container when the app starts.</summary>
internal sealed class DerivedDataInitializer(DerivedVersionRegistry registry, DerivedDataStore store) : Microsoft.Extensions.Hosting.IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await registry.EnsureCreatedAsync(cancellationToken);
        await store.EnsureCreatedAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
