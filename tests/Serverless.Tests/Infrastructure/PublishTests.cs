using System.Text.Json.Nodes;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Infrastructure;

/// <summary>
/// `dotnet publish` of the functions project in Release (Event Hubs host extension switch off, as on
/// the build machines) gives a deployable folder: the worker, functions.metadata, host.json and the
/// extensions the host loads.
/// </summary>
public sealed class PublishTests
{
    [Fact]
    public async Task Release_publish_of_the_functions_app_has_worker_metadata_and_host_json()
    {
        var output = Path.Combine(Path.GetTempPath(), "serverless-publish-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (exitCode, printed, errors) = await Command.RunAsync("dotnet",
                ["publish", "functions/Serverless.Functions.csproj", "-c", "Release", "-o", output, "--nologo", "-p:EventHubsHostExtension=false"], TimeSpan.FromMinutes(8));
            Assert.True(exitCode == 0, printed + errors);

            foreach (var file in new[] { "Serverless.Functions.dll", "functions.metadata", "host.json", "worker.config.json", "extensions.json", "Serverless.Shared.dll", "Serverless.Workflows.dll" })
            {
                Assert.True(File.Exists(Path.Combine(output, file)), $"{file} missing from the publish output");
            }

            var worker = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "worker.config.json")))!;
            Assert.Equal("Serverless.Functions.dll", Path.GetFileName((string?)worker["description"]!["defaultWorkerPath"]));
            var functions = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "functions.metadata")))!.AsArray();
            Assert.Contains(functions, f => (string?)f!["name"] == "facts-ingest");
            var host = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "host.json")))!;
            Assert.Equal("2.0", (string?)host["version"]);
            var extensions = (await File.ReadAllTextAsync(Path.Combine(output, "extensions.json")));
            Assert.Contains("DurableTask", extensions, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }
}
