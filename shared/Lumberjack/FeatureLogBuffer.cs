using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Events;

namespace Serverless.Lumberjack;

/// <summary>
/// Hands logged requests to the feature-log hub off the request path: serving only tries to write
/// into a bounded buffer (never waits); a full buffer drops the request and counts it. A background
/// loop publishes, partition key = member.
/// </summary>
public sealed class FeatureLogBuffer(IOptions<LumberjackOptions> options, IServiceProvider services, ILogger<FeatureLogBuffer> logger) : BackgroundService
{
    private readonly Channel<LoggedRequest> channel = Channel.CreateBounded<LoggedRequest>(
        new BoundedChannelOptions(options.Value.BufferCapacity) { FullMode = BoundedChannelFullMode.Wait, SingleReader = true });
    private long dropped;
    private long published;
    private long pending;

    public long Dropped => Interlocked.Read(ref dropped);

    /// <summary>Requests handed to the hub (one event each).</summary>
    public long Published => Interlocked.Read(ref published);

    /// <summary>Queues one request; false (and counted) when the buffer is full.</summary>
    public bool TryLog(LoggedRequest request)
    {
        Interlocked.Increment(ref pending);
        if (channel.Writer.TryWrite(request))
        {
            return true;
        }

        Interlocked.Decrement(ref pending);
        Interlocked.Increment(ref dropped);
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

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Resolved lazily: the publisher is the local hub or Event Hubs depending on the runtime.
        var publisher = (IEventPublisher?)services.GetService(typeof(IEventPublisher));
        var batch = new List<OutgoingEvent>(128);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(64 * 1024);
        using var writer = new System.Text.Json.Utf8JsonWriter(buffer);
        await foreach (var first in channel.Reader.ReadAllAsync(stoppingToken))
        {
            var requests = 1;
            Add(first);
            while (batch.Count < 100 && channel.Reader.TryRead(out var next))
            {
                Add(next);
                requests++;
            }

            try
            {
                if (publisher is null)
                {
                    throw new InvalidOperationException("no IEventPublisher is registered: set EventHubs__fullyQualifiedNamespace (Azure) or run the local host");
                }

                await publisher.PublishAsync(Hubs.FeatureLog, batch, stoppingToken);
                Interlocked.Add(ref published, requests);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                Interlocked.Add(ref dropped, requests);
                logger.LogError(ex, "Dropped {Count} feature-log records: publishing failed", batch.Count);
            }
            finally
            {
                Interlocked.Add(ref pending, -requests);
                batch.Clear();
            }
        }

        void Add(LoggedRequest request)
        {
            buffer.ResetWrittenCount();
            writer.Reset(buffer);
            FeatureLogEvent.Write(writer, request);
            writer.Flush();
            batch.Add(new OutgoingEvent(request.Member, buffer.WrittenSpan.ToArray()));
        }
    }
}
