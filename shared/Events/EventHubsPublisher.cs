using System.Collections.Concurrent;
using Azure.Core;
using Azure.Messaging.EventHubs;
using Azure.Messaging.EventHubs.Producer;

namespace Serverless.Events;

/// <summary>
/// Publishes to Azure Event Hubs through one <see cref="EventHubProducerClient"/> per hub,
/// identity-based (no keys). A publish goes out as few batches as the size limit allows: consecutive
/// events with the same partition key share a batch (so a key's events stay ordered), and events
/// without a key go to a batch the service places on any partition. Each send is awaited, so the
/// bodies are no longer read when the publish completes (the <see cref="IEventPublisher"/> contract);
/// the client retries sends by its own policy, and a failure surfaces to the caller (as an
/// <see cref="EventPublishException"/> saying how many went out when some did).
/// </summary>
public sealed class EventHubsPublisher(string fullyQualifiedNamespace, TokenCredential credential) : IEventPublisher, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, EventHubProducerClient> producers = new();

    public async ValueTask PublishAsync(string hub, IReadOnlyList<OutgoingEvent> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        var producer = producers.GetOrAdd(hub, h => new EventHubProducerClient(fullyQualifiedNamespace, h, credential));
        var start = 0;
        while (start < events.Count)
        {
            var key = events[start].PartitionKey;
            using var batch = await producer.CreateBatchAsync(new CreateBatchOptions { PartitionKey = key }, cancellationToken);
            var next = start;
            while (next < events.Count && events[next].PartitionKey == key && batch.TryAdd(new EventData(events[next].Body)))
            {
                next++;
            }

            if (next == start)
            {
                throw new InvalidOperationException($"an event of {events[start].Body.Length} bytes exceeds the hub's largest batch ({batch.MaximumSizeInBytes} bytes)");
            }

            try
            {
                await producer.SendAsync(batch, cancellationToken);
            }
            catch (Exception ex) when (start > 0 && ex is not OperationCanceledException)
            {
                throw new EventPublishException(start, $"sending to {hub} failed after {start} of {events.Count} events: {ex.Message}", ex);
            }

            start = next;
        }
    }

    /// <summary>Every publish has been sent when it completes: nothing is held back.</summary>
    public Task FlushAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var producer in producers.Values)
        {
            await producer.DisposeAsync();
        }
    }
}
