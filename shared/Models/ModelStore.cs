using System.Net;
using System.Security.Cryptography;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace Serverless.Models;

/// <summary>A model as stored: its manifest and the ML.NET zip bytes (not yet loaded).</summary>
public sealed record StoredModel(ModelManifest Manifest, BinaryData Artifact)
{
    /// <summary>Loads the artifact; throws <see cref="InvalidDataException"/> when it is not a model fitting the manifest.</summary>
    public TrainedModel Load()
    {
        using var stream = Artifact.ToStream();
        return TrainedModel.Load(stream, Manifest);
    }
}

/// <summary>
/// Model artifacts in blob storage: container "models", blobs {version}/model.zip and
/// {version}/manifest.json. The manifest is written last and is the commit marker: a version exists
/// once its manifest does. Versions are immutable; both blobs are created with If-None-Match: *.
/// The zip carries its SHA-256 as metadata, checked on download.
/// </summary>
public sealed class ModelStore(BlobServiceClient blobs, string containerName = ModelStore.DefaultContainer)
{
    public const string DefaultContainer = "models";
    public const string ArtifactName = "model.zip";
    public const string ManifestName = "manifest.json";
    private const string Sha256Metadata = "sha256";

    private readonly BlobContainerClient container = blobs.GetBlobContainerClient(containerName);

    public BlobContainerClient Container => container;

    public static string ArtifactPath(string version) => $"{ModelVersion.Validate(version)}/{ArtifactName}";

    public static string ManifestPath(string version) => $"{ModelVersion.Validate(version)}/{ManifestName}";

    public async Task EnsureCreatedAsync(CancellationToken cancellationToken = default) =>
        await container.CreateIfNotExistsAsync(cancellationToken: cancellationToken);

    /// <summary>
    /// Stores the artifact, then the manifest. Throws <see cref="ModelVersionExistsException"/> if the
    /// version exists. A retry after a failure between the two writes (same zip bytes) completes the version.
    /// </summary>
    public async Task SaveAsync(TrainedModel model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var zip = new MemoryStream();
        model.Save(zip);
        await SaveAsync(model.Manifest, new BinaryData(zip.GetBuffer().AsMemory(0, (int)zip.Length)), cancellationToken);
    }

    /// <summary>Stores an artifact already serialised (e.g. produced elsewhere), then its manifest.</summary>
    public async Task SaveAsync(ModelManifest manifest, BinaryData artifact, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(artifact);
        var version = ModelVersion.Validate(manifest.Version, nameof(manifest));
        var manifestBlob = container.GetBlobClient(ManifestPath(version));
        if (await manifestBlob.ExistsAsync(cancellationToken))
        {
            throw Exists(version);
        }

        var sha = Convert.ToHexStringLower(SHA256.HashData(artifact.ToMemory().Span));
        var zipBlob = container.GetBlobClient(ArtifactPath(version));
        try
        {
            await zipBlob.UploadAsync(artifact, new BlobUploadOptions
            {
                Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                Metadata = new Dictionary<string, string> { [Sha256Metadata] = sha },
                HttpHeaders = new BlobHttpHeaders { ContentType = "application/zip" },
            }, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
        {
            // A zip without a manifest: an earlier save of this version stopped half-way. Only the
            // same bytes may complete it; anything else is another writer's model.
            var existing = await zipBlob.GetPropertiesAsync(cancellationToken: cancellationToken);
            if (!existing.Value.Metadata.TryGetValue(Sha256Metadata, out var existingSha) || existingSha != sha)
            {
                throw new ModelVersionExistsException($"Model version '{version}' already has a different artifact; versions are immutable.", ex);
            }
        }

        try
        {
            await manifestBlob.UploadAsync(BinaryData.FromString(ModelJson.Serialize(manifest)), new BlobUploadOptions
            {
                Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
            }, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
        {
            throw Exists(version, ex);
        }
    }

    /// <summary>The manifest of <paramref name="version"/>, or null when the version does not exist.</summary>
    public async Task<ModelManifest?> GetManifestAsync(string version, CancellationToken cancellationToken = default)
    {
        try
        {
            var content = await container.GetBlobClient(ManifestPath(version)).DownloadContentAsync(cancellationToken);
            return CheckVersion(ModelJson.Deserialize(content.Value.Content.ToMemory().Span), version);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>
    /// Manifest and artifact bytes of <paramref name="version"/>, or null when it does not exist.
    /// Throws <see cref="InvalidDataException"/> when the artifact does not match its recorded hash.
    /// </summary>
    public async Task<StoredModel?> DownloadAsync(string version, CancellationToken cancellationToken = default)
    {
        var manifest = await GetManifestAsync(version, cancellationToken);
        if (manifest is null)
        {
            return null;
        }

        BlobDownloadResult zip;
        try
        {
            zip = (await container.GetBlobClient(ArtifactPath(version)).DownloadContentAsync(cancellationToken)).Value;
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
        {
            throw new InvalidDataException($"Model version '{version}' has a manifest but no artifact.", ex);
        }

        if (zip.Details.Metadata.TryGetValue(Sha256Metadata, out var expected)
            && Convert.ToHexStringLower(SHA256.HashData(zip.Content.ToMemory().Span)) != expected)
        {
            throw new InvalidDataException($"Model version '{version}': the artifact does not match its recorded SHA-256.");
        }

        return new StoredModel(manifest, zip.Content);
    }

    /// <summary>Downloads and loads <paramref name="version"/>; throws <see cref="ModelNotFoundException"/> when it does not exist.</summary>
    public async Task<TrainedModel> LoadAsync(string version, CancellationToken cancellationToken = default)
    {
        var stored = await DownloadAsync(version, cancellationToken) ?? throw new ModelNotFoundException($"Model version '{version}' is not in the store.");
        return stored.Load();
    }

    private static ModelManifest CheckVersion(ModelManifest manifest, string version) =>
        manifest.Version == version
            ? manifest
            : throw new InvalidDataException($"The manifest stored under '{version}' is for version '{manifest.Version}'.");

    private static ModelVersionExistsException Exists(string version, Exception? inner = null)
    {
        var message = $"Model version '{version}' already exists; versions are immutable.";
        return inner is null ? new(message) : new(message, inner);
    }
}
