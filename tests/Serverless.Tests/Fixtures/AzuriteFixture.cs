using System.Globalization;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Serverless.LocalHost.Azurite;

namespace Serverless.Tests.Fixtures;

/// <summary>
/// Starts Azurite (pinned in package.json, installed by `npm ci`) in memory on free loopback ports
/// for the test run, so `dotnet test` needs nothing running beforehand. Each test takes its own
/// table prefix and container names, so tests share one Azurite without seeing each other's data.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private AzuriteProcess? azurite;
    private int counter;

    public string ConnectionString => azurite?.ConnectionString ?? throw new InvalidOperationException("Azurite has not started");

    public async Task InitializeAsync() => azurite = await AzuriteProcess.StartAsync(Repo.Root);

    /// <summary>A fresh, valid table prefix for one test.</summary>
    public string NewPrefix() => "t" + Interlocked.Increment(ref counter).ToString(CultureInfo.InvariantCulture) + Guid.NewGuid().ToString("N")[..8];

    public TableServiceClient Tables() => new(ConnectionString);

    public BlobServiceClient Blobs() => new(ConnectionString);

    public async Task DisposeAsync()
    {
        if (azurite is not null)
        {
            await azurite.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "azurite";
}
