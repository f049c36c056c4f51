using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Events;
using Serverless.Functions.EventHubs;
using Serverless.Functions.Http;
using Serverless.Hosting;
using Serverless.Lumberjack;

namespace Serverless.Functions.Lumberjack;

/// <summary>The Lumberjack's storage side: logged feature vectors in, labels joined on demand.</summary>
public sealed class FeatureLogFunctions(FeatureLogStore store, LabelJoiner labels)
{
    public const string IngestName = "feature-log-ingest";

    [Function(IngestName)]
    [ExponentialBackoffRetry(-1, "00:00:01", "00:01:00")]
    public async Task Ingest(
        [EventHubTrigger(Hubs.FeatureLog, Connection = AppSettings.EventHubs, ConsumerGroup = Hubs.FeatureLogConsumerGroup)] byte[][] events,
        DateTime[] enqueuedTimeUtcArray,
        long[] sequenceNumberArray,
        CancellationToken cancellationToken)
    {
        await store.IngestAsync(EventBatch.Of(events, enqueuedTimeUtcArray, sequenceNumberArray), cancellationToken);
    }

    /// <summary>Every hour: join labels to impressions whose horizon has closed (and re-label within the late window).</summary>
    [Function("lumberjack-labels-hourly")]
    public Task LabelsHourly([TimerTrigger("0 0 * * * *")] TimerInfo timer, CancellationToken cancellationToken) =>
        labels.RunAsync(cancellationToken);

    /// <summary>Operators join labels now instead of waiting for the hourly run.</summary>
    [Function("lumberjack-labels")]
    public Task<IActionResult> Labels(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "lumberjack/labels")] HttpRequest req) =>
        Problems.Guard(req, async () => new OkObjectResult(await labels.RunAsync(req.HttpContext.RequestAborted)));
}
