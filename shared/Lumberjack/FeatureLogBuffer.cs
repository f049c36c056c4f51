using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Events;

namespace Serverless.Lumberjack;

/// <summary>
/// Hands logged requests to the feature-log hub off the request path: serving only tries to write
/// into a bounded buffer (never waits, never wakes a thread); a full buffer drops the request and
/// counts it. A background loop wakes once per publish interval, writes each request as one event
/// into reused buffers and publishes up to <see cref="MaxRequestsPerPublish"/> at a time. Stopping
/// the host publishes what is queued.
/// </summary>
public sealed class FeatureLogBuffer(IOptions<LumberjackOptions> options, IServiceProvider services, ILogger<FeatureLogBuffer> logger) : BackgroundService
{
    private readonly Channel<LoggedRequest> channel = Channel.CreateBounded<LoggedRequest>(
        new BoundedChannelOptions(options.Value.BufferCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
    private readonly CancellationTokenSource closing = new();
    private long dropped;
    private long published;
    private long pending;

    public long Dropped => Interlocked.Read(ref dropped);

    /// <summary>Requests handed to the hub (one event each).</summary>
    public long Published => Interlocked.Read(ref published);

    /// <summary>
    /// Queues one request and takes ownership of it (it is disposed once published or dropped);
    /// false (and counted) when the buffer is full.
    /// </summary>
    public bool TryLog(LoggedRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Interlocked.Increment(ref pending);
        if (channel.Writer.TryWrite(request))
        {
            return true;
        }

        Interlocked.Decrement(ref pending);
        Interlocked.Increment(ref dropped);
        request.Dispose();
        return false;
    }

    /// <summary>Waits until everything queued so far has been handed to the hub.</summary>
    public async Task DrainAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        while (Interlocked.Read(ref pending) > 0)
        {
            await Task.Delay(5, cts.Token);
        }
    }

    /// <summary>Closes the buffer and publishes what it holds before the host stops (within the host's shutdown time).</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        channel.Writer.TryComplete();
        await closing.CancelAsync();
        if (ExecuteTask is { } running)
        {
            try
            {
                await running.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning("Stopping before {Count} queued feature-log requests were published", Interlocked.Read(ref pending));
            }
        }

        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Resolved lazily: the publisher is the local hub or Event Hubs depending on the runtime.
        var publisher = (IEventPublisher?)services.GetService(typeof(IEventPublisher));
        var interval = options.Value.PublishInterval;
        var requests = new List<LoggedRequest>(MaxRequestsPerPublish);
        var batch = new List<OutgoingEvent>(MaxRequestsPerPublish);

        // One reusable body buffer per event of a publish: publishers read bodies only until their
        // task completes (IEventPublisher), so the loop allocates nothing per request.
        var bodies = new List<ArrayBufferWriter<byte>>(MaxRequestsPerPublish);
        using var writer = new Utf8JsonWriter(Stream.Null);
        using var linger = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, closing.Token);
        while (await channel.Reader.WaitToReadAsync(stoppingToken))
        {
            // Let requests gather: waking this loop per request (a thread wake-up each) is what
            // serving would feel; one wake-up per interval is not.
            // Stopping cuts the wait short.
            if (interval > TimeSpan.Zero && !linger.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(interval, linger.Token);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                }
            }

            while (true)
            {
                while (requests.Count < MaxRequestsPerPublish && channel.Reader.TryRead(out var next))
                {
                    requests.Add(next);
                }

                if (requests.Count == 0)
                {
                    break;
                }

                await PublishAsync(publisher, requests, batch, bodies, writer, stoppingToken);
            }
        }
    }

    private async Task PublishAsync(IEventPublisher? publisher, List<LoggedRequest> requests, List<OutgoingEvent> batch, List<ArrayBufferWriter<byte>> bodies, Utf8JsonWriter writer, CancellationToken stoppingToken)
    {
        try
        {
            if (publisher is null)
            {
                throw new InvalidOperationException("no IEventPublisher is registered: set EventHubs__fullyQualifiedNamespace (Azure) or run the local host");
            }

            for (var k = 0; k < requests.Count; k++)
            {
                if (bodies.Count == k)
                {
                    bodies.Add(new ArrayBufferWriter<byte>(16 * 1024));
                }

                var body = bodies[k];
                body.ResetWrittenCount();
                writer.Reset(body);
                FeatureLogEvent.Write(writer, requests[k]);
                writer.Flush();

                // No partition key: a request's rows are keyed by member and log id downstream, so
                // any partition will do and a publish goes out as one batch.
                batch.Add(new OutgoingEvent(null, body.WrittenMemory));
            }

            await publisher.PublishAsync(Hubs.FeatureLog, batch, stoppingToken);
            Interlocked.Add(ref published, requests.Count);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            // Events go out in order, one per request: the first Sent were published.
            var sent = ex is EventPublishException partial ? Math.Clamp(partial.Sent, 0, requests.Count) : 0;
            Interlocked.Add(ref published, sent);
            Interlocked.Add(ref dropped, requests.Count - sent);
            logger.LogError(ex, "Dropped {Count} feature-log requests: publishing failed ({Sent} went out)", requests.Count - sent, sent);
        }
        finally
        {
            Interlocked.Add(ref pending, -requests.Count);
            foreach (var request in requests)
            {
                request.Dispose();
            }

            requests.Clear();
            batch.Clear();
        }
    }

    public override void Dispose()
    {
        closing.Dispose();
        base.Dispose();
    }

    /// <summary>Most requests handed to the publisher at once.</summary>
    public const int MaxRequestsPerPublish = 100;
}
