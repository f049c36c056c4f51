namespace Serverless.Events;

/// <summary>
/// One event to publish: a partition key (events with the same key stay ordered; null = any
/// partition, for events whose order does not matter) and a body.
/// </summary>
public readonly record struct OutgoingEvent(string? PartitionKey, ReadOnlyMemory<byte> Body);

/// <summary>
/// How the app publishes events. Two implementations: Azure Event Hubs
/// (<see cref="EventHubsPublisher"/>) and the local host's in-process partitioned hub.
/// </summary>
public interface IEventPublisher
{
    /// <summary>
    /// Hands events to the hub; ordering per partition key is preserved. Bodies are read only until
    /// the returned task completes, so callers may reuse their memory afterwards: an implementation
    /// that keeps events longer copies them.
    /// </summary>
    ValueTask PublishAsync(string hub, IReadOnlyList<OutgoingEvent> events, CancellationToken cancellationToken = default);

    /// <summary>Waits until everything published so far has been sent.</summary>
    Task FlushAsync(CancellationToken cancellationToken = default);
}

/// <summary>A publish failed after its first <see cref="Sent"/> events had gone out (in order).</summary>
public sealed class EventPublishException(int sent, string message, Exception inner) : Exception(message, inner)
{
    public int Sent { get; } = sent;
}
