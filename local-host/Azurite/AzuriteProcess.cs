using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace Serverless.LocalHost.Azurite;

/// <summary>
/// Azurite (Blob, Queue, Table), installed from the repository's package-lock.json by `npm ci`,
/// started in memory on loopback ports. Used by the local host, the test fixtures and the benchmarks.
/// </summary>
public sealed class AzuriteProcess : IAsyncDisposable
{
    // Azurite's published development account: the same in every emulator, not a secret.
    public const string DevAccount = "devstoreaccount1";
    public const string DevKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly Process process;

    private AzuriteProcess(Process process, string connectionString)
    {
        this.process = process;
        ConnectionString = connectionString;
    }

    public string ConnectionString { get; }

    /// <summary>CPU time the Azurite process has used so far (benchmarks measure Azurite's work with it).</summary>
    public TimeSpan CpuTime
    {
        get
        {
            process.Refresh();
            return process.TotalProcessorTime;
        }
    }

    public static string ConnectionStringFor(int blob, int queue, int table) =>
        $"DefaultEndpointsProtocol=http;AccountName={DevAccount};AccountKey={DevKey};" +
        $"BlobEndpoint=http://127.0.0.1:{blob}/{DevAccount};QueueEndpoint=http://127.0.0.1:{queue}/{DevAccount};TableEndpoint=http://127.0.0.1:{table}/{DevAccount};";

    /// <summary>Starts Azurite from <paramref name="repositoryRoot"/>/node_modules on the given ports (0 = free ports).</summary>
    public static async Task<AzuriteProcess> StartAsync(string repositoryRoot, int blob = 0, int queue = 0, int table = 0, CancellationToken cancellationToken = default)
    {
        var azurite = Path.Combine(repositoryRoot, "node_modules", ".bin", "azurite");
        if (!File.Exists(azurite))
        {
            throw new InvalidOperationException($"Azurite is not installed at {azurite}: run scripts/setup.sh (npm ci) in the repository root.");
        }

        blob = blob == 0 ? LocalFunctionHost.FreePort() : blob;
        queue = queue == 0 ? LocalFunctionHost.FreePort() : queue;
        table = table == 0 ? LocalFunctionHost.FreePort() : table;
        var start = new ProcessStartInfo(azurite)
        {
            WorkingDirectory = repositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // --disableTelemetry: Azurite otherwise reports every run to Microsoft's Application Insights, which
        // nobody running the tests or the main job asked for (and which build machines cannot reach).
        foreach (var arg in new[]
        {
            "--silent", "--inMemoryPersistence", "--skipApiVersionCheck", "--disableProductStyleUrl", "--disableTelemetry",
            "--blobHost", "127.0.0.1", "--blobPort", blob.ToString(CultureInfo.InvariantCulture),
            "--queueHost", "127.0.0.1", "--queuePort", queue.ToString(CultureInfo.InvariantCulture),
            "--tableHost", "127.0.0.1", "--tablePort", table.ToString(CultureInfo.InvariantCulture),
        })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start Azurite");
        var errors = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (errors) { errors.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (errors) { errors.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!(await IsOpen(blob, cancellationToken) && await IsOpen(table, cancellationToken)))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"Azurite did not start: {errors}");
            }

            await Task.Delay(100, cancellationToken);
        }

        return new AzuriteProcess(process, ConnectionStringFor(blob, queue, table));
    }

    private static async Task<bool> IsOpen(int port, CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", port, cancellationToken);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }
}
