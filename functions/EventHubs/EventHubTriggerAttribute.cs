using Microsoft.Azure.Functions.Worker.Extensions.Abstractions;

#if EVENTHUBS_HOST_EXTENSION
// Deployable builds (-p:EventHubsHostExtension=true): tells the Functions SDK to add the WebJobs
// Event Hubs extension to the host's extension bundle so Azure runs this trigger.
[assembly: ExtensionInformation("Microsoft.Azure.WebJobs.Extensions.EventHubs", "6.5.1")]
#endif

namespace Serverless.Functions.EventHubs;

/// <summary>
/// The Event Hubs trigger binding (type "eventHubTrigger"). Defined here because the worker
/// extension package is not served to the build machines; the generated functions.metadata is the
/// same as the official attribute's: eventHubName, connection, consumerGroup, cardinality.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter)]
[BindingCapabilities(KnownBindingCapabilities.FunctionLevelRetry)]
public sealed class EventHubTriggerAttribute(string eventHubName) : TriggerBindingAttribute
{
    /// <summary>The hub to read.</summary>
    public string EventHubName { get; } = eventHubName;

    /// <summary>The app setting prefix of the identity-based connection (EventHubs__fullyQualifiedNamespace ...).</summary>
    public string? Connection { get; set; }

    /// <summary>The consumer group, one per trigger.</summary>
    public string? ConsumerGroup { get; set; }

    /// <summary>Batches (cardinality many) by default.</summary>
    [DefaultValue(true)]
    public bool IsBatched { get; set; } = true;
}
