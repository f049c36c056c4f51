using Serverless.Events;

namespace Serverless.Functions.EventHubs;

/// <summary>Zips a batched trigger's bodies with its metadata arrays.</summary>
public static class EventBatch
{
    public static IReadOnlyList<IncomingEvent> Of(byte[][] bodies, DateTime[] enqueuedTimes, long[] sequenceNumbers)
    {
        if (enqueuedTimes.Length != bodies.Length || sequenceNumbers.Length != bodies.Length)
        {
            throw new InvalidOperationException(
                $"trigger metadata does not match the batch: {bodies.Length} events, {enqueuedTimes.Length} enqueued times, {sequenceNumbers.Length} sequence numbers");
        }

        var result = new IncomingEvent[bodies.Length];
        for (var i = 0; i < bodies.Length; i++)
        {
            result[i] = new IncomingEvent(bodies[i], new DateTimeOffset(DateTime.SpecifyKind(enqueuedTimes[i], DateTimeKind.Utc)), sequenceNumbers[i]);
        }

        return result;
    }
}
