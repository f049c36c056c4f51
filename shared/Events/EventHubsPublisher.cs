using System.Collections.Concurrent;
using Azure.Core;
using Azure.Messaging.EventHubs;
using Azure.Messaging.EventHubs.Producer;
using Microsoft.Extensions.Logging;

namespace Serverless.Events;

/// <summary>
/// Publishes to Azure Event Hubs through one <see cref="EventHubBufferedProducerClient"/> per hub,
/// partition key = the event's key (the member), identity-based (no keys).
/// </summary>
public sealed class EventHubsPublisher(string fullyQualifiedNamespace, TokenCredential credential, ILogger<EventHubsPublisher> logger)
    : IEventPublisher, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, EventHubBufferedProducerClient> producers = new();

    public async ValueTask PublishAsync(string hub, IReadOnlyList<OutgoingEvent> events, CancellationToken cancellationToken = default)
    {
        var producer = producers.GetOrAdd(hub, Create);
        foreach (var e in events)
        {
            await producer.EnqueueEventAsync(new EventData(e.Body), new EnqueueEventOptions { PartitionKey = e.PartitionKey }, cancellationToken);
        }
    }

    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        foreach (var producer in producers.Values)
        {
            await producer.FlushAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var producer in producers.Values)
        {
            await producer.DisposeAsync();
        }
    }

    private EventHubBufferedProducerClient Create(string hub)
    {
        var producer = new EventHubBufferedProducerClient(fullyQualifiedNamespace, hub, credential);
        producer.SendEventBatchFailedAsync += args =>
        {
            logger.LogError(args.Exception, "Sending {Count} events to {Hub} partition {Partition} failed", args.EventBatch.Count, hub, args.PartitionId);
            return Task.CompletedTask;
        };
        producer.SendEventBatchSucceededAsync += _ => Task.CompletedTask;
        return producer;
    }
}
