using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Events;
using Serverless.Ranking;

namespace Serverless.Lumberjack;

/// <summary>
/// Hands logged requests to the feature-log hub off the request path: serving only tries to write
/// into a bounded buffer (never waits, never wakes a thread); a full buffer drops the request and
/// counts it. A background loop wakes once per publish interval, writes each request as one event
/// into reused buffers and publishes up to <see cref="MaxRequestsPerPublish"/> at a time. A failed
/// publish is retried with exponential backoff (<see cref="LumberjackOptions.PublishAttempts"/>,
/// <see cref="LumberjackOptions.PublishRetryDelay"/>, at most
/// <see cref="LumberjackOptions.PublishRetryTimeout"/> in all); after a partial failure only what
/// did not go out is sent again. What still fails is dropped and counted, as is what the host's
/// shutdown time cuts off. Stopping the host publishes what is queued.
/// </summary>
public sealed class FeatureLogBuffer(IOptions<LumberjackOptions> options, IServiceProvider services, ILogger<FeatureLogBuffer> logger, ServingMonitor monitor, Hosting.PlatformMetrics metrics) : BackgroundService
{
    private readonly Channel<LoggedRequest> channel = Channel.CreateBounded<LoggedRequest>(
        new BoundedChannelOptions(options.Value.BufferCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
    private readonly CancellationTokenSource closing = new();
    private long dropped;
    private long published;
    private long pending;
    private long retries;

    /// <summary>Requests lost: the buffer was full, publishing failed after its retries, or the host stopped first.</summary>
    public long Dropped => Interlocked.Read(ref dropped);

    /// <summary>Requests handed to the hub (one event each).</summary>
    public long Published => Interlocked.Read(ref published);

    /// <summary>Requests queued (or being published) and not yet handed to the hub.</summary>
    public long Pending => Interlocked.Read(ref pending);

    /// <summary>Publishes made again after a failure.</summary>
    public long PublishRetries => Interlocked.Read(ref retries);

    /// <summary>
    /// Queues one request and takes ownership of it (it is disposed once published or dropped);
    /// false (and counted) when the buffer is full.
    /// </summary>
    public bool TryLog(LoggedRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Interlocked.Increment(ref pending);
        var vectors = request.Count;
        if (channel.Writer.TryWrite(request))
        {
            metrics.FeatureLogQueued(vectors);
            return true;
        }

        Interlocked.Decrement(ref pending);
        Drop(1);
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
        try
        {
            await PublishQueuedAsync(publisher, interval, requests, batch, bodies, writer, linger, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping: a normal end (what is still queued is counted below), not a failure.
        }
        finally
        {
            // Out of time (the host's shutdown): what is still queued will never go out. This loop is
            // the channel's only reader, so nothing else takes requests from it meanwhile.
            var lost = 0;
            while (channel.Reader.TryRead(out var left))
            {
                left.Dispose();
                lost++;
            }

            if (lost > 0)
            {
                Interlocked.Add(ref pending, -lost);
                Drop(lost);
                logger.LogWarning("Dropped {Count} queued feature-log requests: the host stopped before they were published", lost);
            }
        }
    }

    private async Task PublishQueuedAsync(IEventPublisher? publisher, TimeSpan interval, List<LoggedRequest> requests, List<OutgoingEvent> batch,
        List<ArrayBufferWriter<byte>> bodies, Utf8JsonWriter writer, CancellationTokenSource linger, CancellationToken stoppingToken)
    {
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
        // Requests handed to the hub so far; events go out in order, one per request.
        var sent = 0;
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

            var o = options.Value;
            var started = Stopwatch.GetTimestamp();
            var delay = o.PublishRetryDelay;
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await publisher.PublishAsync(Hubs.FeatureLog, batch, stoppingToken);
                    sent += batch.Count;
                    Interlocked.Add(ref published, batch.Count);
                    return;
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // The first Sent went out: they are published, and never sent again.
                    var partial = ex is EventPublishException p ? Math.Clamp(p.Sent, 0, batch.Count) : 0;
                    sent += partial;
                    Interlocked.Add(ref published, partial);
                    batch.RemoveRange(0, partial);
                    if (batch.Count == 0)
                    {
                        return;
                    }

                    var elapsed = Stopwatch.GetElapsedTime(started);
                    if (attempt >= o.PublishAttempts || elapsed + delay > o.PublishRetryTimeout)
                    {
                        Drop(batch.Count);
                        logger.LogError(ex, "Dropped {Count} feature-log requests: publishing failed {Attempts} times in {Elapsed} ({Sent} went out)",
                            batch.Count, attempt, elapsed, sent);
                        return;
                    }

                    Interlocked.Increment(ref retries);
                    logger.LogWarning(ex, "Publishing {Count} feature-log requests failed (attempt {Attempt} of {Attempts}, {Sent} went out); retrying in {Delay}",
                        batch.Count, attempt, o.PublishAttempts, sent, delay);
                    await Task.Delay(delay, stoppingToken);
                    delay *= 2;
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            // Not a publish failure (no publisher, a request that cannot be written): retrying would not help.
            Drop(requests.Count - sent);
            logger.LogError(ex, "Dropped {Count} feature-log requests: they could not be published ({Sent} went out)", requests.Count - sent, sent);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown time ran out during a publish or a retry's pause.
            Drop(requests.Count - sent);
            logger.LogWarning("Dropped {Count} feature-log requests: the host stopped while they were being published ({Sent} went out)", requests.Count - sent, sent);
            throw;
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

    /// <summary>Counts dropped requests, here and in the serving monitor's last minute.</summary>
    private void Drop(long count)
    {
        Interlocked.Add(ref dropped, count);
        monitor.RecordFeatureLogDrops(count);
        metrics.FeatureLogDropped.Add(count);
    }

    public override void Dispose()
    {
        closing.Dispose();
        base.Dispose();
    }

    /// <summary>Most requests handed to the publisher at once.</summary>
    public const int MaxRequestsPerPublish = 100;
}
