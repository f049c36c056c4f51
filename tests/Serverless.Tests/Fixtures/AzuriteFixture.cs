using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Serverless.LocalHost;

namespace Serverless.Tests.Fixtures;

/// <summary>
/// Starts Azurite (pinned in package.json, installed by `npm ci`) in memory on free loopback ports
/// for the test run, so `dotnet test` needs nothing running beforehand. Each test takes its own
/// table prefix and container names, so tests share one Azurite without seeing each other's data.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    // Azurite's documented, public development account (not a secret: every emulator uses it).
    private const string DevAccount = "devstoreaccount1";
    private const string DevKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private Process? process;
    private int counter;

    public string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var azurite = Repo.Path("node_modules", ".bin", "azurite");
        if (!File.Exists(azurite))
        {
            throw new InvalidOperationException($"Azurite is not installed at {azurite}: run `npm ci` in the repository root (scripts/test.sh does).");
        }

        int blob = LocalFunctionHost.FreePort(), queue = LocalFunctionHost.FreePort(), table = LocalFunctionHost.FreePort();
        var start = new ProcessStartInfo(azurite)
        {
            WorkingDirectory = Repo.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--silent", "--inMemoryPersistence", "--skipApiVersionCheck", "--disableProductStyleUrl",
            "--blobHost", "127.0.0.1", "--blobPort", blob.ToString(CultureInfo.InvariantCulture),
            "--queueHost", "127.0.0.1", "--queuePort", queue.ToString(CultureInfo.InvariantCulture),
            "--tableHost", "127.0.0.1", "--tablePort", table.ToString(CultureInfo.InvariantCulture),
        })
        {
            start.ArgumentList.Add(arg);
        }

        process = Process.Start(start) ?? throw new InvalidOperationException("could not start Azurite");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!(await IsOpen(blob) && await IsOpen(table)))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException("Azurite did not start (exit code " + (process.HasExited ? process.ExitCode : -1) + ")");
            }

            await Task.Delay(100);
        }

        ConnectionString = ConnectionStringFor(blob, queue, table);
    }

    public static string ConnectionStringFor(int blob, int queue, int table) =>
        $"DefaultEndpointsProtocol=http;AccountName={DevAccount};AccountKey={DevKey};" +
        $"BlobEndpoint=http://127.0.0.1:{blob}/{DevAccount};QueueEndpoint=http://127.0.0.1:{queue}/{DevAccount};TableEndpoint=http://127.0.0.1:{table}/{DevAccount};";

    /// <summary>A fresh, valid table prefix for one test.</summary>
    public string NewPrefix() => "t" + Interlocked.Increment(ref counter).ToString(CultureInfo.InvariantCulture) + Guid.NewGuid().ToString("N")[..8];

    public TableServiceClient Tables() => new(ConnectionString);

    public BlobServiceClient Blobs() => new(ConnectionString);

    private static async Task<bool> IsOpen(int port)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public Task DisposeAsync()
    {
        if (process is { HasExited: false })
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }

        process?.Dispose();
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "azurite";
}
