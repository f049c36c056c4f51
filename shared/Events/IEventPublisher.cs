namespace Serverless.Events;

/// <summary>One event to publish: a partition key (events with the same key stay ordered) and a body.</summary>
public readonly record struct OutgoingEvent(string PartitionKey, ReadOnlyMemory<byte> Body);

/// <summary>
/// How the app publishes events. Two implementations: Azure Event Hubs
/// (<see cref="EventHubsPublisher"/>) and the local host's in-process partitioned hub.
/// </summary>
public interface IEventPublisher
{
    /// <summary>
    /// Hands events to the hub. Returns once they are accepted for sending (buffered); ordering per
    /// partition key is preserved.
    /// </summary>
    ValueTask PublishAsync(string hub, IReadOnlyList<OutgoingEvent> events, CancellationToken cancellationToken = default);

    /// <summary>Waits until everything published so far has been sent.</summary>
    Task FlushAsync(CancellationToken cancellationToken = default);
}
