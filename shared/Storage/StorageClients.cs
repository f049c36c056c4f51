using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Azure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Hosting;

namespace Serverless.Storage;

/// <summary>
/// Registers the Table and Blob clients from the "Storage" connection: identity-based in Azure
/// (Storage__tableServiceUri, Storage__blobServiceUri, Storage__credential=managedidentity,
/// Storage__clientId), or a connection string locally (Storage=UseDevelopmentStorage=true or an
/// Azurite string with its ports).
/// </summary>
public static class StorageClients
{
    public static IServiceCollection AddStorageClients(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(AppSettings.Storage);
        services.AddAzureClients(clients =>
        {
            clients.AddClient<TableServiceClient, TableClientOptions>((options, _, _) =>
                section.Value is { Length: > 0 } connection
                    ? new TableServiceClient(connection, options)
                    : new TableServiceClient(RequiredUri(section, "tableServiceUri"), Credential(section), options));
            clients.AddClient<BlobServiceClient, BlobClientOptions>((options, _, _) =>
                section.Value is { Length: > 0 } connection
                    ? new BlobServiceClient(connection, options)
                    : new BlobServiceClient(RequiredUri(section, "blobServiceUri"), Credential(section), options));
        });
        return services;
    }

    /// <summary>
    /// The credential of an identity-based connection: the user-assigned managed identity named by
    /// clientId when credential=managedidentity, otherwise the developer's default credential chain.
    /// </summary>
    public static TokenCredential Credential(IConfigurationSection section) =>
        string.Equals(section["credential"], "managedidentity", StringComparison.OrdinalIgnoreCase)
            ? new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(
                section["clientId"] ?? throw new InvalidOperationException($"{section.Path}__clientId is required with credential=managedidentity")))
            : new DefaultAzureCredential();

    private static Uri RequiredUri(IConfigurationSection section, string key) =>
        Uri.TryCreate(section[key], UriKind.Absolute, out var uri)
            ? uri
            : throw new InvalidOperationException($"Setting {section.Path}__{key} (or a {section.Path} connection string) is required.");
}
