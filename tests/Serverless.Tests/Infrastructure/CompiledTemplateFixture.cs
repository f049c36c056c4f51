using System.Text.Json.Nodes;

namespace Serverless.Tests.Infrastructure;

/// <summary>Compiles infra-bicep/main.bicep once for every test in the "Bicep" collection.</summary>
public sealed class CompiledTemplateFixture : IAsyncLifetime
{
    private BicepResult? build;
    private JsonObject? template;

    /// <summary>The raw result of <c>bicep build main.bicep --stdout</c>.</summary>
    internal BicepResult Build => build ?? throw new InvalidOperationException("Not initialized.");

    /// <summary>The compiled ARM template.</summary>
    public JsonObject Template => template ?? throw new InvalidOperationException(
        $"main.bicep did not compile (exit {Build.ExitCode}):\n{Build.StandardError}");

    /// <summary>The compiled ARM template as text.</summary>
    public string Json => Build.StandardOutput;

    public async Task InitializeAsync()
    {
        build = await BicepCli.RunAsync("build", RepositoryPaths.MainBicep, "--stdout");
        if (build.ExitCode == 0)
        {
            template = JsonNode.Parse(build.StandardOutput)?.AsObject();
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

[CollectionDefinition(Name)]
public sealed class BicepCollection : ICollectionFixture<CompiledTemplateFixture>
{
    public const string Name = "Bicep";
}
