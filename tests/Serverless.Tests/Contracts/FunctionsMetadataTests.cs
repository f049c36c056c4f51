using System.Text.Json.Nodes;
using Serverless.Events;
using Serverless.Functions.Archive;
using Serverless.Hosting;
using Serverless.LocalHost.Functions;
using Serverless.Tests.Fixtures;
using Serverless.Workflows;

namespace Serverless.Tests.Contracts;

/// <summary>The generated functions.metadata is the contract with the Functions host; check every binding.</summary>
public sealed class FunctionsMetadataTests
{
    internal static readonly Lazy<JsonArray> Metadata = new(() =>
    {
        // The SDK writes functions.metadata next to the functions assembly; the test build copies that assembly here.
        var candidates = new[]
        {
            Path.Combine(AppContext.BaseDirectory, "functions.metadata"),
            Path.Combine(Path.GetDirectoryName(typeof(FactsIngestion).Assembly.Location)!, "functions.metadata"),
        }.Concat(Directory.EnumerateFiles(Repo.Path("functions", "bin"), "functions.metadata", SearchOption.AllDirectories).OrderByDescending(File.GetLastWriteTimeUtc));
        var path = candidates.First(File.Exists);
        return JsonNode.Parse(File.ReadAllText(path))!.AsArray();
    });

    private static JsonObject Function(string name) =>
        Metadata.Value.Select(f => f!.AsObject()).SingleOrDefault(f => (string?)f["name"] == name) ?? throw new Xunit.Sdk.XunitException($"no function '{name}' in functions.metadata");

    private static JsonObject Binding(string function, string type) =>
        Function(function)["bindings"]!.AsArray().Select(b => b!.AsObject()).Single(b => (string?)b["type"] == type);

    [Theory]
    [InlineData(FactsIngestion.Name, Hubs.Facts, Hubs.FactsConsumerGroup)]
    [InlineData(Serverless.Functions.Lumberjack.FeatureLogFunctions.IngestName, Hubs.FeatureLog, Hubs.FeatureLogConsumerGroup)]
    public void Event_hub_triggers_are_batched_on_their_hub_and_consumer_group(string function, string hub, string consumerGroup)
    {
        var b = Binding(function, "eventHubTrigger");
        Assert.Equal("events", (string?)b["name"]);
        Assert.Equal("In", (string?)b["direction"]);
        Assert.Equal(hub, (string?)b["eventHubName"]);
        Assert.Equal(AppSettings.EventHubs, (string?)b["connection"]);
        Assert.Equal(consumerGroup, (string?)b["consumerGroup"]);
        Assert.Equal("Many", (string?)b["cardinality"]);
        Assert.Equal("Binary", (string?)b["dataType"]);
        Assert.Null(b["isBatched"]);
        var retry = Function(function)["retry"]!;
        Assert.Equal("exponentialBackoff", (string?)retry["strategy"]);
        Assert.Equal(-1, (int)retry["maxRetryCount"]!);
    }

    [Theory]
    [InlineData("archive-history", "get", "archive/members/{member}/history", "Function")]
    [InlineData("archive-title", "get", "archive/titles/{title}", "Function")]
    [InlineData("archive-facts", "get", "archive/facts", "Function")]
    [InlineData("archive-deadletters", "get", "archive/deadletters", "Function")]
    [InlineData("archive-export-start", "post", "archive/exports", "Admin")]
    [InlineData("archive-export-status", "get", "archive/exports/{id}", "Function")]
    [InlineData("lumberjack-labels", "post", "lumberjack/labels", "Admin")]
    [InlineData("train-pipeline-approval", "post", "pipelines/train/{id}/approval", "Admin")]
    [InlineData("models-rollback", "post", "models/rollback", "Admin")]
    [InlineData("timemachine-snapshot-start", "post", "timemachine/snapshots", "Admin")]
    [InlineData("timemachine-snapshot-list", "get", "timemachine/snapshots", "Function")]
    [InlineData("timemachine-snapshot-get", "get", "timemachine/snapshots/{id}", "Function")]
    [InlineData("health", "get", "health", "Anonymous")]
    [InlineData("openapi", "get", "openapi.json", "Anonymous")]
    public void Http_functions_have_their_route_method_and_key_level(string name, string method, string route, string authLevel)
    {
        var b = Binding(name, "httpTrigger");
        Assert.Equal("req", (string?)b["name"]);
        Assert.Equal(route, (string?)b["route"]);
        Assert.Equal([method], b["methods"]!.AsArray().Select(m => (string?)m));
        Assert.Equal(authLevel, (string?)b["authLevel"]);
        Assert.Equal("$return", (string?)Binding(name, "http")["name"]);
    }

    [Fact]
    public void The_label_joiner_runs_hourly_on_a_timer()
    {
        var b = Binding("lumberjack-labels-hourly", "timerTrigger");
        Assert.Equal("timer", (string?)b["name"]);
        Assert.Equal("0 0 * * * *", (string?)b["schedule"]);
    }

    [Fact]
    public void The_precompute_timer_reads_its_schedule_from_the_Precompute__Schedule_setting()
    {
        var b = Binding("precompute-scheduled", "timerTrigger");
        Assert.Equal("timer", (string?)b["name"]);
        Assert.Equal("%Precompute__Schedule%", (string?)b["schedule"]);
        Assert.Equal("client", (string?)Binding("precompute-scheduled", "durableClient")["name"]);
    }

    [Fact]
    public void Durable_functions_are_named_by_TaskNames()
    {
        Assert.Equal("context", (string?)Binding(TaskNames.ArchiveExport, "orchestrationTrigger")["name"]);
        Assert.Equal("input", (string?)Binding(TaskNames.ExportArchivePage, "activityTrigger")["name"]);
        Assert.Equal("client", (string?)Binding("archive-export-start", "durableClient")["name"]);
    }

    [Fact]
    public void Every_function_in_the_metadata_is_hosted_by_the_local_host_with_the_same_trigger()
    {
        var hosted = FunctionCatalog.Discover(typeof(FactsIngestion).Assembly).ToDictionary(f => f.Name);
        var listed = Metadata.Value.Select(f => f!.AsObject()).ToList();
        Assert.NotEmpty(listed);
        Assert.Equal(listed.Select(f => (string)f["name"]!).Order(), hosted.Keys.Order());
        foreach (var f in listed)
        {
            var trigger = f["bindings"]!.AsArray().Select(b => (string)b!["type"]!).Single(t => t.EndsWith("Trigger", StringComparison.Ordinal));
            var expected = trigger switch
            {
                "httpTrigger" => TriggerKind.Http,
                "eventHubTrigger" => TriggerKind.EventHub,
                "orchestrationTrigger" => TriggerKind.Orchestration,
                "activityTrigger" => TriggerKind.Activity,
                "timerTrigger" => TriggerKind.Timer,
                _ => throw new Xunit.Sdk.XunitException($"trigger {trigger} has no local binding"),
            };
            Assert.Equal(expected, hosted[(string)f["name"]!].Trigger);
            // Every parameter binds (throws NotSupportedException otherwise).
            ParameterBinder.Compile(hosted[(string)f["name"]!]);
        }
    }
}
