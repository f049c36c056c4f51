using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using Serverless.Events;

namespace Serverless.LocalHost.Hub;

/// <summary>Settings of the in-process hub.</summary>
public sealed class LocalHubOptions
{
    public int PartitionCount { get; init; } = 4;

    /// <summary>Largest batch handed to a trigger (host.json maxEventBatchSize).</summary>
    public int MaxBatchSize { get; init; } = 500;

    /// <summary>How long a partition waits to fill a batch once it has at least one event.</summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>First and longest pause before a failed batch is delivered again.</summary>
    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromMilliseconds(50);
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>Counters of one consumer group on one hub.</summary>
public sealed record HubConsumerStats(string Hub, string ConsumerGroup, long Published, long Checkpointed, long Batches, long FailedBatches);

/// <summary>
/// The local stand-in for Event Hubs: named hubs of N partitions; an event goes to the partition of
/// its key's stable hash, so one key's events stay ordered (events without a key go round-robin).
/// Each subscribed consumer group reads every partition from the start in batches, checkpoints
/// after a batch succeeds, and delivers the same batch again after a failure (at-least-once), like
/// the Functions Event Hubs trigger.
/// Events stay in memory for the life of the process.
/// </summary>
public sealed class LocalEventHub(LocalHubOptions options, TimeProvider time, ILogger<LocalEventHub> logger) : IEventPublisher, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, HubLog> hubs = new(StringComparer.Ordinal);
    private readonly List<Consumer> consumers = [];
    private readonly CancellationTokenSource stopping = new();
    private int disposed;

    // Someone waits for the hub to be idle: partitions deliver what they have without waiting to fill a batch.
    private int idleWaiters;
    private TaskCompletionSource deliverNow = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Completed (and replaced) whenever a consumer group checkpoints, so idle waiters wake at once instead of polling.
    private TaskCompletionSource checkpointed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LocalHubOptions Options => options;

    public ValueTask PublishAsync(string hub, IReadOnlyList<OutgoingEvent> events, CancellationToken cancellationToken = default)
    {
        var log = Hub(hub);
        foreach (var e in events)
        {
            // The body is copied: the caller may reuse its memory once this returns.
            var partition = e.PartitionKey is null
                ? (int)((uint)Interlocked.Increment(ref log.NextUnkeyed) % (uint)options.PartitionCount)
                : PartitionOf(e.PartitionKey, options.PartitionCount);
            log.Partitions[partition].Append(e.Body.ToArray(), time.GetUtcNow());
        }

        return ValueTask.CompletedTask;
    }

    public Task FlushAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    /// <summary>Stable partition of a key (FNV-1a over its UTF-8 bytes), the same in every process.</summary>
    public static int PartitionOf(string key, int partitionCount)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(key))
        {
            hash = (hash ^ b) * 16777619u;
        }

        return (int)(hash % (uint)partitionCount);
    }

    /// <summary>Starts delivering a hub's events to a handler, one loop per partition.</summary>
    public void Subscribe(string hub, string consumerGroup, Func<IReadOnlyList<IncomingEvent>, CancellationToken, Task> handler)
    {
        var log = Hub(hub);
        var consumer = new Consumer(hub, consumerGroup, log, handler);
        lock (consumers)
        {
            if (consumers.Any(c => c.Hub == hub && c.Group == consumerGroup))
            {
                throw new InvalidOperationException($"consumer group '{consumerGroup}' already reads hub '{hub}'");
            }

            consumers.Add(consumer);
        }

        for (var p = 0; p < log.Partitions.Length; p++)
        {
            var partition = p;
            consumer.Loops.Add(Task.Run(() => DeliverAsync(consumer, partition, stopping.Token)));
        }
    }

    public IReadOnlyList<HubConsumerStats> Stats()
    {
        lock (consumers)
        {
            return consumers.Select(c => new HubConsumerStats(c.Hub, c.Group, c.Log.Partitions.Sum(p => p.Count),
                Interlocked.Read(ref c.Checkpointed), Interlocked.Read(ref c.Batches), Interlocked.Read(ref c.FailedBatches))).ToList();
        }
    }

    /// <summary>Waits until every consumer group has checkpointed everything published so far.</summary>
    public Task WaitForIdleAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WaitForIdleAsync(null, timeout, cancellationToken);

    /// <summary>
    /// Waits until every consumer group of <paramref name="hub"/> (null: of every hub) has checkpointed
    /// everything published to it so far. While anyone waits, partitions deliver what they hold at once
    /// instead of waiting <see cref="LocalHubOptions.MaxWait"/> to fill a batch.
    /// </summary>
    public Task WaitForIdleAsync(string? hub, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WaitUntilAsync(() => Stats().All(s => (hub is not null && s.Hub != hub) || s.Checkpointed >= s.Published), timeout, cancellationToken);

    /// <summary>
    /// Waits until every consumer group of <paramref name="hub"/> has checkpointed everything published
    /// so far to the partition of <paramref name="partitionKey"/> (so everything published with that key),
    /// without waiting for the other partitions.
    /// </summary>
    public Task WaitForPartitionAsync(string hub, string partitionKey, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var log = Hub(hub);
        var partition = PartitionOf(partitionKey, options.PartitionCount);
        var published = log.Partitions[partition].Count;
        Consumer[] readers;
        lock (consumers)
        {
            readers = consumers.Where(c => c.Hub == hub).ToArray();
        }

        return WaitUntilAsync(() => readers.All(c => Volatile.Read(ref c.PartitionCheckpoints[partition]) >= published), timeout, cancellationToken);
    }

    private async Task WaitUntilAsync(Func<bool> done, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        Interlocked.Increment(ref idleWaiters);
        try
        {
            Interlocked.Exchange(ref deliverNow, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            while (true)
            {
                // Take the signal before looking, so a checkpoint between the look and the wait still wakes us.
                var progressed = Volatile.Read(ref checkpointed).Task;
                if (done())
                {
                    return;
                }

                await progressed.WaitAsync(cts.Token);
            }
        }
        finally
        {
            Interlocked.Decrement(ref idleWaiters);
        }
    }

    private HubLog Hub(string name)
    {
        if (name.Length is 0 or > 256)
        {
            throw new ArgumentException("hub name must be 1..256 characters", nameof(name));
        }

        return hubs.GetOrAdd(name, _ => new HubLog(options.PartitionCount));
    }

    private async Task DeliverAsync(Consumer consumer, int partitionIndex, CancellationToken stop)
    {
        var partition = consumer.Log.Partitions[partitionIndex];
        long checkpoint = 0;
        var delay = options.FirstRetryDelay;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (!await partition.WaitForMoreThanAsync(checkpoint, stop))
                {
                    continue;
                }

                // Wait for a fuller batch, unless someone waits for the hub to be idle (now or during the wait).
                var nudge = Volatile.Read(ref deliverNow).Task;
                if (partition.Count - checkpoint < options.MaxBatchSize && Volatile.Read(ref idleWaiters) == 0)
                {
                    await Task.WhenAny(Task.Delay(options.MaxWait, stop), nudge);
                    stop.ThrowIfCancellationRequested();
                }

                var batch = partition.Read(checkpoint, options.MaxBatchSize);
                try
                {
                    await consumer.Handler(batch, stop);
                }
                catch (Exception ex) when (!stop.IsCancellationRequested)
                {
                    Interlocked.Increment(ref consumer.FailedBatches);
                    logger.LogWarning(ex, "Hub {Hub}/{Group} partition {Partition}: batch of {Count} from {Sequence} failed; redelivering in {Delay}",
                        consumer.Hub, consumer.Group, partitionIndex, batch.Count, checkpoint, delay);
                    await Task.Delay(delay, stop);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.MaxRetryDelay.Ticks));
                    continue;
                }

                checkpoint += batch.Count;
                Volatile.Write(ref consumer.PartitionCheckpoints[partitionIndex], checkpoint);
                delay = options.FirstRetryDelay;
                Interlocked.Increment(ref consumer.Batches);
                Interlocked.Add(ref consumer.Checkpointed, batch.Count);
                Interlocked.Exchange(ref checkpointed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>Stops every delivery loop (idempotent); undelivered events stay unacknowledged.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1)
        {
            return;
        }

        await stopping.CancelAsync();
        Task[] loops;
        lock (consumers)
        {
            loops = consumers.SelectMany(c => c.Loops).ToArray();
        }

        await Task.WhenAll(loops);
    }

    private sealed class Consumer(string hub, string group, HubLog log, Func<IReadOnlyList<IncomingEvent>, CancellationToken, Task> handler)
    {
        public string Hub { get; } = hub;
        public string Group { get; } = group;
        public HubLog Log { get; } = log;
        public Func<IReadOnlyList<IncomingEvent>, CancellationToken, Task> Handler { get; } = handler;
        public List<Task> Loops { get; } = [];
        public long[] PartitionCheckpoints { get; } = new long[log.Partitions.Length];
        public long Checkpointed;
        public long Batches;
        public long FailedBatches;
    }

    private sealed class HubLog(int partitionCount)
    {
        public PartitionLog[] Partitions { get; } = Enumerable.Range(0, partitionCount).Select(_ => new PartitionLog()).ToArray();

        /// <summary>Round-robin counter for events without a partition key.</summary>
        public int NextUnkeyed;
    }

    private sealed class PartitionLog
    {
        private readonly List<IncomingEvent> events = [];
        private TaskCompletionSource more = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long Count
        {
            get { lock (events) { return events.Count; } }
        }

        public void Append(byte[] body, DateTimeOffset enqueued)
        {
            TaskCompletionSource signal;
            lock (events)
            {
                events.Add(new IncomingEvent(body, enqueued, events.Count));
                signal = more;
                more = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            signal.TrySetResult();
        }

        public async Task<bool> WaitForMoreThanAsync(long offset, CancellationToken stop)
        {
            Task wait;
            lock (events)
            {
                if (events.Count > offset)
                {
                    return true;
                }

                wait = more.Task;
            }

            await wait.WaitAsync(stop);
            return false;
        }

        public List<IncomingEvent> Read(long offset, int max)
        {
            lock (events)
            {
                var count = (int)Math.Min(max, events.Count - offset);
                return events.GetRange((int)offset, count);
            }
        }
    }
}
