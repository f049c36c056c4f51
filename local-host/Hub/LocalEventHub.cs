using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Hosting;
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

    /// <summary><see cref="MaxWait"/> of particular hubs (by name), where it differs.</summary>
    public IReadOnlyDictionary<string, TimeSpan> MaxWaitOfHub { get; init; } = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);

    /// <summary>How long a partition of <paramref name="hub"/> waits to fill a batch.</summary>
    public TimeSpan MaxWaitFor(string hub) => MaxWaitOfHub.TryGetValue(hub, out var wait) ? wait : MaxWait;

    /// <summary>First and longest pause before a failed batch is delivered again.</summary>
    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromMilliseconds(50);
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Most events one partition keeps that some consumer group has not acknowledged yet (the hub's
    /// retention); a publisher waits for room beyond it.
    /// </summary>
    public int MaxRetainedEvents { get; init; } = 50_000;

    /// <summary>Most bytes of event bodies one partition keeps unacknowledged (one larger event still fits into an empty partition).</summary>
    public long MaxRetainedBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>How long stopping lets consumers catch up before it reports what is left unacknowledged.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(3);
}

/// <summary>
/// Counters of one consumer group on one hub. <see cref="LagEvents"/> is what the group has not
/// acknowledged yet, <see cref="OldestUnacknowledgedAge"/> how long ago (on the hub's clock) the
/// oldest of those was enqueued (null when there is none). <see cref="RetainedEvents"/> and
/// <see cref="RetainedBytes"/> are what the hub holds in memory (for every group of the hub), and
/// <see cref="PublisherWaits"/> how often a publisher found a partition full and waited.
/// </summary>
public sealed record HubConsumerStats(
    string Hub,
    string ConsumerGroup,
    long Published,
    long Checkpointed,
    long Batches,
    long FailedBatches,
    long LagEvents,
    TimeSpan? OldestUnacknowledgedAge,
    long RetainedEvents,
    long RetainedBytes,
    long PublisherWaits);

/// <summary>What one consumer group had not acknowledged when the hub stopped.</summary>
public sealed record HubLeftover(string Hub, string ConsumerGroup, long Events);

/// <summary>
/// The local stand-in for Event Hubs: named hubs of N partitions; an event goes to the partition of
/// its key's stable hash, so one key's events stay ordered (events without a key go round-robin).
/// Each subscribed consumer group reads every partition from its earliest retained event in
/// batches, checkpoints after a batch succeeds, and delivers the same batch again after a failure
/// (at-least-once), like the Functions Event Hubs trigger.
/// <para>
/// Memory is bounded like a real hub's retention: an event is released as soon as every consumer
/// group subscribed to its hub has checkpointed past it (a group that subscribes later starts at
/// the earliest event still retained, as a new group on Event Hubs starts at the retention
/// window), and a partition keeps at most <see cref="LocalHubOptions.MaxRetainedEvents"/> events
/// and <see cref="LocalHubOptions.MaxRetainedBytes"/> bytes unacknowledged. When a partition is
/// full, <b>publishers wait</b> until consumers catch up (back-pressure) instead of the hub
/// dropping or overwriting events: the local hub is what tests and the replay measure against, so
/// it never loses an event silently; a slow consumer shows as a slow publisher and as lag in
/// <see cref="Stats"/>. A wait honours the publisher's cancellation token; a publish cancelled part
/// way throws <see cref="EventPublishException"/> saying how many of its events went in. A hub
/// without any subscribed group keeps its events up to the bound, then its publishers wait.
/// </para>
/// <para>
/// Stopping (the host stops it after every other service, so the feature-log buffer's last publish
/// still reaches it) gives consumers <see cref="LocalHubOptions.DrainTimeout"/> to catch up, then
/// ends delivery and logs a warning with the number of events each hub/group leaves
/// unacknowledged (<see cref="LeftAtStop"/>); publishing after that throws.
/// </para>
/// </summary>
public sealed class LocalEventHub(LocalHubOptions options, TimeProvider time, ILogger<LocalEventHub> logger) : IEventPublisher, IHostedService, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, HubLog> hubs = new(StringComparer.Ordinal);
    private readonly List<Consumer> consumers = [];
    private readonly CancellationTokenSource stopping = new();
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IReadOnlyList<HubLeftover>? leftAtStop;
    private int stopRequested;

    // Someone waits for the hub to be idle: partitions deliver what they have without waiting to fill a batch
    // (someone waiting for one partition nudges only that partition: see PartitionLog.Waiters).
    private int idleWaiters;
    private TaskCompletionSource deliverNow = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Completed (and replaced) whenever a consumer group checkpoints, so idle waiters wake at once instead of polling.
    private TaskCompletionSource checkpointed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LocalHubOptions Options => options;

    /// <summary>What each consumer group had not acknowledged when the hub stopped; null while it runs.</summary>
    public IReadOnlyList<HubLeftover>? LeftAtStop => Volatile.Read(ref leftAtStop);

    public ValueTask PublishAsync(string hub, IReadOnlyList<OutgoingEvent> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        var log = Hub(hub);
        for (var i = 0; i < events.Count; i++)
        {
            var partition = PartitionFor(log, events[i]);

            // The fast path: room in the partition, nothing to wait for. The body is copied: the
            // caller may reuse its memory once this returns.
            if (!log.Partitions[partition].TryAppend(events[i].Body, time))
            {
                return PublishWaitingAsync(hub, log, events, i, partition, cancellationToken);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The rest of a publish that found a partition full: each event waits for room in turn, so order is kept.</summary>
    private async ValueTask PublishWaitingAsync(string hub, HubLog log, IReadOnlyList<OutgoingEvent> events, int from, int partition, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref log.PublisherWaits);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping.Token);
        for (var i = from; i < events.Count; i++)
        {
            var target = i == from ? partition : PartitionFor(log, events[i]);
            try
            {
                await log.Partitions[target].AppendAsync(events[i].Body, time, cancel.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                var cancelled = ex is OperationCanceledException && cancellationToken.IsCancellationRequested;
                var error = cancelled ? ex : new ObjectDisposedException(nameof(LocalEventHub), $"the local hub stopped while a publish to '{hub}' waited for room");
                if (i == 0)
                {
                    if (cancelled)
                    {
                        throw;
                    }

                    throw error;
                }

                throw new EventPublishException(i, $"publishing to '{hub}' stopped after {i} of {events.Count} events, waiting for room: {error.Message}", error);
            }
        }
    }

    private int PartitionFor(HubLog log, in OutgoingEvent e) => e.PartitionKey is null
        ? (int)((uint)Interlocked.Increment(ref log.NextUnkeyed) % (uint)options.PartitionCount)
        : PartitionOf(e.PartitionKey, options.PartitionCount);

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
        Consumer consumer;
        lock (consumers)
        {
            ObjectDisposedException.ThrowIf(stopping.IsCancellationRequested, this);
            if (consumers.Any(c => c.Hub == hub && c.Group == consumerGroup))
            {
                throw new InvalidOperationException($"consumer group '{consumerGroup}' already reads hub '{hub}'");
            }

            consumer = new Consumer(hub, consumerGroup, log, handler, log.Partitions.Select(p => p.AddCursor()).ToArray());
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
        var now = time.GetUtcNow();
        lock (consumers)
        {
            return consumers.Select(c =>
            {
                long published = 0, lag = 0, retained = 0, bytes = 0;
                TimeSpan? oldest = null;
                for (var p = 0; p < c.Log.Partitions.Length; p++)
                {
                    var s = c.Log.Partitions[p].Measure(c.Cursors[p], now);
                    published += s.Published;
                    lag += s.Lag;
                    retained += s.Retained;
                    bytes += s.Bytes;
                    if (s.OldestAge is { } age && (oldest is null || age > oldest))
                    {
                        oldest = age;
                    }
                }

                return new HubConsumerStats(c.Hub, c.Group, published, Interlocked.Read(ref c.Checkpointed), Interlocked.Read(ref c.Batches),
                    Interlocked.Read(ref c.FailedBatches), lag, oldest, retained, bytes, Interlocked.Read(ref c.Log.PublisherWaits));
            }).ToList();
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
        WaitUntilAsync(() => Stats().All(s => (hub is not null && s.Hub != hub) || s.LagEvents == 0), timeout, cancellationToken);

    /// <summary>
    /// Waits until every consumer group of <paramref name="hub"/> has checkpointed everything published
    /// so far to the partition of <paramref name="partitionKey"/> (so everything published with that key),
    /// without waiting for the other partitions. Only that partition delivers at once what it holds;
    /// the others go on filling their batches (up to <see cref="LocalHubOptions.MaxWait"/>), so a caller
    /// that waits often (the replay's rank traffic) does not cut every partition's batches short.
    /// </summary>
    public Task WaitForPartitionAsync(string hub, string partitionKey, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var log = Hub(hub);
        var partition = PartitionOf(partitionKey, options.PartitionCount);
        var published = log.Partitions[partition].Next;
        Consumer[] readers;
        lock (consumers)
        {
            readers = consumers.Where(c => c.Hub == hub).ToArray();
        }

        return WaitUntilAsync(() => readers.All(c => c.Cursors[partition].Checkpoint >= published), timeout, cancellationToken, log.Partitions[partition]);
    }

    /// <summary>Waits until <paramref name="done"/>; meanwhile every partition (or only <paramref name="only"/>) delivers what it holds at once.</summary>
    private async Task WaitUntilAsync(Func<bool> done, TimeSpan timeout, CancellationToken cancellationToken, PartitionLog? only = null)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        if (only is null)
        {
            Interlocked.Increment(ref idleWaiters);
        }
        else
        {
            only.AddWaiter();
        }

        try
        {
            if (only is null)
            {
                Interlocked.Exchange(ref deliverNow, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }

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
            if (only is null)
            {
                Interlocked.Decrement(ref idleWaiters);
            }
            else
            {
                only.RemoveWaiter();
            }
        }
    }

    private HubLog Hub(string name)
    {
        if (name.Length is 0 or > 256)
        {
            throw new ArgumentException("hub name must be 1..256 characters", nameof(name));
        }

        ObjectDisposedException.ThrowIf(stopping.IsCancellationRequested, this);
        return hubs.GetOrAdd(name, _ => new HubLog(options));
    }

    private async Task DeliverAsync(Consumer consumer, int partitionIndex, CancellationToken stop)
    {
        var partition = consumer.Log.Partitions[partitionIndex];
        var cursor = consumer.Cursors[partitionIndex];
        var maxWait = options.MaxWaitFor(consumer.Hub);
        var delay = options.FirstRetryDelay;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var checkpoint = cursor.Checkpoint;
                if (!await partition.WaitForMoreThanAsync(checkpoint, stop))
                {
                    continue;
                }

                // Wait for a fuller batch, unless someone waits for the hub to be idle or for this partition (now or during the wait).
                var nudge = Volatile.Read(ref deliverNow).Task;
                var partitionNudge = partition.Nudge;
                if (partition.Next - checkpoint < options.MaxBatchSize && Volatile.Read(ref idleWaiters) == 0 && partition.Waiters == 0)
                {
                    await Task.WhenAny(Task.Delay(maxWait, stop), nudge, partitionNudge);
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

                // Acknowledged: events every group has passed leave memory, and waiting publishers get room.
                partition.Checkpoint(cursor, checkpoint + batch.Count);
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

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Lets consumers catch up for at most <see cref="LocalHubOptions.DrainTimeout"/> (or until
    /// <paramref name="cancellationToken"/>, the host's shutdown time), then stops every delivery
    /// loop, fails publishers still waiting, and reports and logs what each consumer group leaves
    /// unacknowledged. Idempotent.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref stopRequested, 1) == 1)
        {
            await stopped.Task.WaitAsync(cancellationToken);
            return;
        }

        try
        {
            await WaitForIdleAsync(options.DrainTimeout, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Out of time: what is left is reported below.
        }

        await stopping.CancelAsync();
        Task[] loops;
        lock (consumers)
        {
            loops = consumers.SelectMany(c => c.Loops).ToArray();
        }

        foreach (var log in hubs.Values)
        {
            foreach (var partition in log.Partitions)
            {
                partition.Stop();
            }
        }

        await Task.WhenAll(loops);
        var left = Stats().Select(s => new HubLeftover(s.Hub, s.ConsumerGroup, s.LagEvents)).ToList();
        foreach (var group in left)
        {
            if (group.Events > 0)
            {
                logger.LogWarning("Local hub stopped: {Hub}/{Group} left {Count} events unacknowledged (they are lost with this process)",
                    group.Hub, group.ConsumerGroup, group.Events);
            }
        }

        if (left.All(l => l.Events == 0))
        {
            logger.LogInformation("Local hub stopped with every event acknowledged by every consumer group");
        }

        Volatile.Write(ref leftAtStop, left);
        stopped.TrySetResult();
    }

    /// <summary>Stops the hub as <see cref="StopAsync"/> does, if the host did not already.</summary>
    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);

    private sealed class Consumer(string hub, string group, HubLog log, Func<IReadOnlyList<IncomingEvent>, CancellationToken, Task> handler, Cursor[] cursors)
    {
        public string Hub { get; } = hub;
        public string Group { get; } = group;
        public HubLog Log { get; } = log;
        public Func<IReadOnlyList<IncomingEvent>, CancellationToken, Task> Handler { get; } = handler;

        /// <summary>This group's checkpoint in each partition.</summary>
        public Cursor[] Cursors { get; } = cursors;
        public List<Task> Loops { get; } = [];
        public long Checkpointed;
        public long Batches;
        public long FailedBatches;
    }

    /// <summary>A consumer group's checkpoint in one partition: the sequence number of the first event it has not acknowledged.</summary>
    private sealed class Cursor(long checkpoint)
    {
        public long Checkpoint { get => Volatile.Read(ref checkpoint); set => Volatile.Write(ref checkpoint, value); }
    }

    private sealed class HubLog(LocalHubOptions options)
    {
        public PartitionLog[] Partitions { get; } = Enumerable.Range(0, options.PartitionCount).Select(_ => new PartitionLog(options)).ToArray();

        /// <summary>Round-robin counter for events without a partition key.</summary>
        public int NextUnkeyed;

        /// <summary>How often a publish found a partition full and waited.</summary>
        public long PublisherWaits;
    }

    private readonly record struct PartitionMeasure(long Published, long Lag, TimeSpan? OldestAge, long Retained, long Bytes);

    /// <summary>
    /// One partition: the events from <c>first</c> (the oldest some group has not acknowledged) to
    /// <c>next</c> (exclusive), in a list whose slots before <c>head</c> are already released.
    /// </summary>
    private sealed class PartitionLog(LocalHubOptions options)
    {
        private readonly object gate = new();
        private readonly List<IncomingEvent> events = [];
        private readonly List<Cursor> cursors = [];
        private int head;
        private long first;
        private long next;
        private long bytes;
        private bool stopped;
        private TaskCompletionSource more = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource room = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource nudge = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int waiters;

        /// <summary>Callers waiting for this partition to be acknowledged: while there are any, it delivers what it holds at once.</summary>
        public int Waiters => Volatile.Read(ref waiters);

        /// <summary>Completes when a caller starts waiting for this partition (a delivery loop waiting to fill a batch delivers at once).</summary>
        public Task Nudge => Volatile.Read(ref nudge).Task;

        public void AddWaiter()
        {
            Interlocked.Increment(ref waiters);
            Interlocked.Exchange(ref nudge, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }

        public void RemoveWaiter() => Interlocked.Decrement(ref waiters);

        /// <summary>The sequence number the next event gets (= events ever published to the partition).</summary>
        public long Next
        {
            get { lock (gate) { return next; } }
        }

        public Cursor AddCursor()
        {
            lock (gate)
            {
                var cursor = new Cursor(first);
                cursors.Add(cursor);
                return cursor;
            }
        }

        /// <summary>Appends a copy of the body if the partition has room; false when it is full.</summary>
        public bool TryAppend(ReadOnlyMemory<byte> body, TimeProvider time)
        {
            TaskCompletionSource signal;
            lock (gate)
            {
                ObjectDisposedException.ThrowIf(stopped, typeof(LocalEventHub));
                var retained = next - first;
                if (retained > 0 && (retained >= options.MaxRetainedEvents || bytes + body.Length > options.MaxRetainedBytes))
                {
                    return false;
                }

                // Enqueued when the hub accepts it, as Event Hubs stamps it.
                events.Add(new IncomingEvent(body.ToArray(), time.GetUtcNow(), next));
                next++;
                bytes += body.Length;
                signal = more;
                more = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            signal.TrySetResult();
            return true;
        }

        /// <summary>Appends once there is room (waiting for consumers to acknowledge events).</summary>
        public async Task AppendAsync(ReadOnlyMemory<byte> body, TimeProvider time, CancellationToken cancellationToken)
        {
            while (true)
            {
                Task wait;
                lock (gate)
                {
                    wait = room.Task;
                }

                if (TryAppend(body, time))
                {
                    return;
                }

                await wait.WaitAsync(cancellationToken);
            }
        }

        /// <summary>Moves a group's checkpoint; releases what every group has now passed and wakes waiting publishers.</summary>
        public void Checkpoint(Cursor cursor, long to)
        {
            TaskCompletionSource? signal = null;
            lock (gate)
            {
                cursor.Checkpoint = to;
                var release = cursors.Min(c => c.Checkpoint);
                if (release > first)
                {
                    var count = (int)(release - first);
                    for (var i = head; i < head + count; i++)
                    {
                        bytes -= events[i].Body.Length;
                        events[i] = default;
                    }

                    head += count;
                    first = release;

                    // Compact once most of the list is released slots (amortized O(1) per event).
                    if (head >= 1024 && head * 2 >= events.Count)
                    {
                        events.RemoveRange(0, head);
                        head = 0;
                    }

                    signal = room;
                    room = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }

            signal?.TrySetResult();
        }

        public async Task<bool> WaitForMoreThanAsync(long offset, CancellationToken stop)
        {
            Task wait;
            lock (gate)
            {
                if (next > offset)
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
            lock (gate)
            {
                var count = (int)Math.Min(max, next - offset);
                return events.GetRange(head + (int)(offset - first), count);
            }
        }

        public PartitionMeasure Measure(Cursor cursor, DateTimeOffset now)
        {
            lock (gate)
            {
                var checkpoint = cursor.Checkpoint;
                TimeSpan? age = null;
                if (checkpoint < next)
                {
                    var enqueued = events[head + (int)(checkpoint - first)].EnqueuedTime;
                    age = now > enqueued ? now - enqueued : TimeSpan.Zero;
                }

                return new PartitionMeasure(next, next - checkpoint, age, next - first, bytes);
            }
        }

        /// <summary>No more events: publishers still waiting for room fail.</summary>
        public void Stop()
        {
            TaskCompletionSource signal;
            lock (gate)
            {
                stopped = true;
                signal = room;
            }

            signal.TrySetResult();
        }
    }
}
