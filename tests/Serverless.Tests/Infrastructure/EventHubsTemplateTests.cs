using System.Text.Json.Nodes;

namespace Serverless.Tests.Infrastructure;

[Collection(BicepCollection.Name)]
public sealed class EventHubsTemplateTests(CompiledTemplateFixture compiled)
{
    private const string HubType = "Microsoft.EventHub/namespaces/eventhubs";
    private const string ConsumerGroupType = "Microsoft.EventHub/namespaces/eventhubs/consumergroups";

    // The app's trigger constants: facts are read by the Online Archive, logged feature vectors by the Lumberjack.
    private static readonly (string Hub, string ConsumerGroup)[] Expected =
    [
        (Serverless.Events.Hubs.Facts, Serverless.Events.Hubs.FactsConsumerGroup),
        (Serverless.Events.Hubs.FeatureLog, Serverless.Events.Hubs.FeatureLogConsumerGroup),
    ];

    [Fact]
    public void Hubs_and_consumer_groups_match_the_app()
    {
        var module = ArmTemplate.ModulesDeploying(compiled.Template, HubType).Single();
        var nested = ArmTemplate.NestedTemplate(module)!;
        var hubLoop = ArmTemplate.DeployedResources(nested, HubType).Single()["copy"]!["count"]!.GetValue<string>();
        var parameter = nested["parameters"]!.AsObject()
            .Select(p => p.Key)
            .Single(name => hubLoop.Contains($"parameters('{name}')", StringComparison.Ordinal));

        var hubs = ArmTemplate.ModuleParameter(compiled.Template, module, parameter)!.AsArray();
        var actual = hubs
            .OfType<JsonObject>()
            .SelectMany(h => h["consumerGroups"]!.AsArray().Select(g => (
                Hub: h["name"]!.GetValue<string>(),
                ConsumerGroup: g!.GetValue<string>())))
            .ToArray();

        Assert.Equal(Expected, actual);
        Assert.Single(ArmTemplate.DeployedResources(nested, ConsumerGroupType));
    }

    [Fact]
    public void Namespace_is_standard_with_local_auth_disabled()
    {
        var ns = ArmTemplate.DeployedResources(compiled.Template, "Microsoft.EventHub/namespaces").Single();

        Assert.Equal("Standard", ns["sku"]!["name"]!.GetValue<string>());
        Assert.True(ns["properties"]!["disableLocalAuth"]!.GetValue<bool>());
    }

    [Fact]
    public void Partitions_and_retention_are_parameters_of_main()
    {
        var hub = ArmTemplate.DeployedResources(compiled.Template, HubType).Single();
        var module = ArmTemplate.ModulesDeploying(compiled.Template, HubType).Single();
        var properties = hub["properties"]!;

        foreach (var property in new[] { "partitionCount", "messageRetentionInDays" })
        {
            var expression = properties[property]!.GetValue<string>();
            var moduleParameter = expression.Replace("[parameters('", "", StringComparison.Ordinal)
                .Replace("')]", "", StringComparison.Ordinal);
            var passed = module["properties"]!["parameters"]![moduleParameter]!["value"]!.GetValue<string>();
            Assert.StartsWith("[parameters('", passed, StringComparison.Ordinal);
        }
    }
}
