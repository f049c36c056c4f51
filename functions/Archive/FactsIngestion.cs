using Microsoft.Azure.Functions.Worker;
using Serverless.Archive;
using Serverless.Events;
using Serverless.Functions.EventHubs;
using Serverless.Hosting;

namespace Serverless.Functions.Archive;

/// <summary>Facts hub -> validate -> Online Archive. Bad events go to the dead-letter table; the rest is stored.</summary>
public sealed class FactsIngestion(FactArchive archive)
{
    public const string Name = "facts-ingest";

    [Function(Name)]
    [ExponentialBackoffRetry(-1, "00:00:01", "00:01:00")]
    public async Task Run(
        [EventHubTrigger(Hubs.Facts, Connection = AppSettings.EventHubs, ConsumerGroup = Hubs.FactsConsumerGroup)] byte[][] events,
        DateTime[] enqueuedTimeUtcArray,
        long[] sequenceNumberArray,
        CancellationToken cancellationToken)
    {
        await archive.IngestAsync(EventBatch.Of(events, enqueuedTimeUtcArray, sequenceNumberArray), cancellationToken);
    }
}
