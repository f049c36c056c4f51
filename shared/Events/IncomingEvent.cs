namespace Serverless.Events;

/// <summary>
/// One event as a trigger receives it: the body plus the hub's metadata. The enqueued time is the
/// moment the platform learned of the event; redelivery repeats all of it unchanged.
/// </summary>
public readonly record struct IncomingEvent(ReadOnlyMemory<byte> Body, DateTimeOffset EnqueuedTime, long SequenceNumber);
