using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Serverless.Events;
using Serverless.LocalHost.Hub;

namespace Serverless.Tests.LocalHost;

public sealed class LocalEventHubTests
{
    private static LocalEventHub NewHub(int partitions = 4, int maxBatch = 50, int maxRetained = 50_000, long maxBytes = 64L << 20, TimeSpan? drain = null, TimeProvider? time = null, ILogger<LocalEventHub>? logger = null) =>
        new(new LocalHubOptions
        {
            PartitionCount = partitions, MaxBatchSize = maxBatch, MaxWait = TimeSpan.FromMilliseconds(5), FirstRetryDelay = TimeSpan.FromMilliseconds(5),
            MaxRetainedEvents = maxRetained, MaxRetainedBytes = maxBytes, DrainTimeout = drain ?? TimeSpan.FromSeconds(3),
        }, time ?? TimeProvider.System, logger ?? NullLogger<LocalEventHub>.Instance);

    /// <summary>A consumer that takes batches only when the test lets it (one permit per batch).</summary>
    private sealed class GatedConsumer
    {
        public SemaphoreSlim Gate { get; } = new(0);
        public ConcurrentQueue<string> Received { get; } = new();

        public async Task Handle(IReadOnlyList<IncomingEvent> batch, CancellationToken cancellationToken)
        {
            await Gate.WaitAsync(cancellationToken);
            foreach (var e in batch) { Received.Enqueue(Encoding.UTF8.GetString(e.Body.Span)); }
        }
    }

    /// <summary>Keeps every log entry (level and rendered message).</summary>
    private sealed class ListLogger : ILogger<LocalEventHub>
    {
        public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Enqueue((logLevel, formatter(state, exception)));
    }

    private static OutgoingEvent E(string key, int n) => new(key, Encoding.UTF8.GetBytes($"{key}:{n}"));

    [Fact]
    public async Task Events_of_one_key_arrive_in_order_in_batches_no_larger_than_the_limit()
    {
        await using var hub = NewHub(maxBatch: 7);
        var received = new ConcurrentQueue<string>();
        var largest = 0;
        hub.Subscribe("h", "g", (batch, _) =>
        {
            largest = Math.Max(largest, batch.Count);
            foreach (var e in batch) { received.Enqueue(Encoding.UTF8.GetString(e.Body.Span)); }
            return Task.CompletedTask;
        });

        var keys = Enumerable.Range(0, 10).Select(k => $"member{k}").ToArray();
        for (var n = 0; n < 30; n++)
        {
            await hub.PublishAsync("h", keys.Select(k => E(k, n)).ToList());
        }

        await hub.WaitForIdleAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(300, received.Count);
        Assert.InRange(largest, 1, 7);
        foreach (var key in keys)
        {
            var sequence = received.Where(r => r.StartsWith(key + ":", StringComparison.Ordinal)).Select(r => int.Parse(r[(key.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(Enumerable.Range(0, 30), sequence);
        }
    }

    [Fact]
    public async Task A_failed_batch_is_delivered_again_until_it_succeeds_and_then_checkpointed()
    {
        await using var hub = NewHub(partitions: 1, maxBatch: 100);
        var attempts = new List<IReadOnlyList<IncomingEvent>>();
        var failures = 2;
        hub.Subscribe("h", "g", (batch, _) =>
        {
            lock (attempts) { attempts.Add(batch); }
            return Interlocked.Decrement(ref failures) >= 0 ? throw new InvalidOperationException("storage is down") : Task.CompletedTask;
        });

        await hub.PublishAsync("h", Enumerable.Range(0, 10).Select(n => E("k", n)).ToList());
        await hub.WaitForIdleAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(3, attempts.Count);
        Assert.All(attempts, a => Assert.Equal(attempts[0].Select(e => e.SequenceNumber), a.Select(e => e.SequenceNumber)));
        Assert.All(attempts, a => Assert.Equal(attempts[0].Select(e => e.EnqueuedTime), a.Select(e => e.EnqueuedTime)));
        var stats = Assert.Single(hub.Stats());
        Assert.Equal(10, stats.Checkpointed);
        Assert.Equal(2, stats.FailedBatches);
    }

    [Fact]
    public async Task Each_consumer_group_reads_every_event_from_the_start()
    {
        await using var hub = NewHub();
        await hub.PublishAsync("h", Enumerable.Range(0, 20).Select(n => E($"k{n}", n)).ToList());
        var a = 0;
        var b = 0;
        hub.Subscribe("h", "a", (batch, _) => { Interlocked.Add(ref a, batch.Count); return Task.CompletedTask; });
        hub.Subscribe("h", "b", (batch, _) => { Interlocked.Add(ref b, batch.Count); return Task.CompletedTask; });
        await hub.WaitForIdleAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(20, a);
        Assert.Equal(20, b);
        Assert.Throws<InvalidOperationException>(() => hub.Subscribe("h", "a", (_, _) => Task.CompletedTask));
    }

    [Fact]
    public async Task Events_every_group_acknowledged_leave_memory_and_the_slowest_group_holds_the_rest()
    {
        await using var hub = NewHub(partitions: 2, maxBatch: 1000);
        var fast = 0;
        hub.Subscribe("h", "fast", (batch, _) => { Interlocked.Add(ref fast, batch.Count); return Task.CompletedTask; });
        var slow = new GatedConsumer();
        hub.Subscribe("h", "slow", slow.Handle);

        await hub.PublishAsync("h", Enumerable.Range(0, 100).Select(n => E($"k{n}", n)).ToList());
        var bytes = Enumerable.Range(0, 100).Sum(n => E($"k{n}", n).Body.Length);
        while (Volatile.Read(ref fast) < 100) { await Task.Delay(5); }

        // The fast group has acknowledged everything; the slow one nothing, so all of it stays.
        var held = hub.Stats().Single(s => s.ConsumerGroup == "slow");
        Assert.Equal((100, 100, 100, bytes), (held.Published, held.LagEvents, held.RetainedEvents, held.RetainedBytes));
        Assert.Equal(0, hub.Stats().Single(s => s.ConsumerGroup == "fast").LagEvents);

        slow.Gate.Release(1000);
        await hub.WaitForIdleAsync(TimeSpan.FromSeconds(30));
        var after = Assert.Single(hub.Stats(), s => s.ConsumerGroup == "slow");
        Assert.Equal((100, 0, 0L, 0L), (after.Published, after.LagEvents, after.RetainedEvents, after.RetainedBytes));
        Assert.Null(after.OldestUnacknowledgedAge);
        Assert.Equal(100, slow.Received.Count);
    }

    [Fact]
    public async Task A_full_partition_makes_publishers_wait_until_consumers_catch_up_and_loses_nothing()
    {
        await using var hub = NewHub(partitions: 1, maxBatch: 3, maxRetained: 5);
        var consumer = new GatedConsumer();
        hub.Subscribe("h", "g", consumer.Handle);
        await hub.PublishAsync("h", Enumerable.Range(0, 5).Select(n => E("k", n)).ToList());

        // Full: this publish cannot complete while the consumer acknowledges nothing.
        var waiting = hub.PublishAsync("h", Enumerable.Range(5, 4).Select(n => E("k", n)).ToList()).AsTask();
        Assert.False(waiting.IsCompleted);
        var full = Assert.Single(hub.Stats());
        Assert.Equal((5, 5L), (full.RetainedEvents, full.Published));
        Assert.Equal(1, full.PublisherWaits);

        consumer.Gate.Release(100);
        await waiting;
        await hub.WaitForIdleAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, 9).Select(n => $"k:{n}"), consumer.Received);
        Assert.Equal(9, Assert.Single(hub.Stats()).Checkpointed);
    }

    [Fact]
    public async Task A_publisher_waiting_for_room_can_be_cancelled_and_is_told_how_many_events_went_in()
    {
        await using var hub = NewHub(partitions: 1, maxRetained: 3);
        var consumer = new GatedConsumer();
        hub.Subscribe("h", "g", consumer.Handle);
        await hub.PublishAsync("h", [E("k", 0), E("k", 1)]);

        using (var cancel = new CancellationTokenSource())
        {
            var partial = hub.PublishAsync("h", [E("k", 2), E("k", 3), E("k", 4)], cancel.Token).AsTask();
            Assert.False(partial.IsCompleted);
            await cancel.CancelAsync();
            var error = await Assert.ThrowsAsync<EventPublishException>(() => partial);
            Assert.Equal(1, error.Sent);
        }

        using (var cancel = new CancellationTokenSource())
        {
            var none = hub.PublishAsync("h", [E("k", 5)], cancel.Token).AsTask();
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => none);
        }

        Assert.Equal(3, Assert.Single(hub.Stats()).Published);
        consumer.Gate.Release(100);
        await hub.WaitForIdleAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["k:0", "k:1", "k:2"], consumer.Received);
    }

    [Fact]
    public async Task Stats_show_the_lag_and_the_age_of_the_oldest_unacknowledged_event_on_the_hub_clock()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var hub = NewHub(partitions: 2, time: clock);
        var consumer = new GatedConsumer();
        hub.Subscribe("h", "g", consumer.Handle);
        await hub.PublishAsync("h", [E("a", 0), E("b", 0)]);
        clock.Advance(TimeSpan.FromSeconds(30));
        await hub.PublishAsync("h", [E("a", 1)]);
        clock.Advance(TimeSpan.FromSeconds(12));

        var stats = Assert.Single(hub.Stats());
        Assert.Equal(3, stats.LagEvents);
        Assert.Equal(TimeSpan.FromSeconds(42), stats.OldestUnacknowledgedAge);

        consumer.Gate.Release(100);
        await hub.WaitForIdleAsync(TimeSpan.FromSeconds(30));
        Assert.Null(Assert.Single(hub.Stats()).OldestUnacknowledgedAge);
    }

    [Fact]
    public async Task Stopping_gives_consumers_time_to_drain_then_reports_and_logs_what_is_left()
    {
        var logger = new ListLogger();
        var hub = NewHub(partitions: 2, drain: TimeSpan.FromMilliseconds(300), logger: logger);
        var done = 0;
        hub.Subscribe("h", "done", (batch, _) => { Interlocked.Add(ref done, batch.Count); return Task.CompletedTask; });
        hub.Subscribe("h", "stuck", (_, _) => throw new InvalidOperationException("storage is down"));
        await hub.PublishAsync("h", Enumerable.Range(0, 7).Select(n => E($"k{n}", n)).ToList());
        while (Volatile.Read(ref done) < 7) { await Task.Delay(5); }
        Assert.Null(hub.LeftAtStop);

        await hub.StopAsync(CancellationToken.None);

        Assert.Equal(
            [new HubLeftover("h", "done", 0), new HubLeftover("h", "stuck", 7)],
            hub.LeftAtStop!.OrderBy(l => l.ConsumerGroup, StringComparer.Ordinal));
        var warning = Assert.Single(logger.Entries, e => e.Level == LogLevel.Warning && e.Message.StartsWith("Local hub stopped", StringComparison.Ordinal));
        Assert.Contains("h/stuck left 7 events unacknowledged", warning.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => hub.PublishAsync("h", [E("k", 9)]).AsTask());
        await hub.DisposeAsync();
    }

    [Fact]
    public async Task Waiting_for_idle_delivers_at_once_instead_of_waiting_to_fill_a_batch()
    {
        // A batch window far longer than the test's patience: only the waiter's nudge can deliver in time.
        await using var hub = new LocalEventHub(new LocalHubOptions { PartitionCount = 2, MaxBatchSize = 500, MaxWait = TimeSpan.FromMinutes(10) },
            TimeProvider.System, NullLogger<LocalEventHub>.Instance);
        var received = 0;
        hub.Subscribe("h", "g", (batch, _) => { Interlocked.Add(ref received, batch.Count); return Task.CompletedTask; });

        await hub.PublishAsync("h", [E("a", 1), E("b", 1)]);
        await Task.Yield();
        await hub.WaitForIdleAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, received);

        // Again, with the partitions already waiting to fill a batch when the waiter arrives.
        await hub.PublishAsync("h", [E("a", 2), E("b", 2)]);
        await Task.Delay(50);
        await hub.WaitForIdleAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(4, received);
    }

    [Fact]
    public async Task Waiting_for_a_key_delivers_its_partition_at_once_and_leaves_the_others_filling_their_batches()
    {
        // A batch window far longer than the test's patience for the hub "h"; the default window for other hubs.
        await using var hub = new LocalEventHub(new LocalHubOptions
        {
            PartitionCount = 2, MaxBatchSize = 500, MaxWait = TimeSpan.FromMilliseconds(5),
            MaxWaitOfHub = new Dictionary<string, TimeSpan>(StringComparer.Ordinal) { ["h"] = TimeSpan.FromMinutes(10) },
        }, TimeProvider.System, NullLogger<LocalEventHub>.Instance);
        var awaited = Enumerable.Range(0, 100).Select(i => $"m{i}").First(k => LocalEventHub.PartitionOf(k, 2) == 0);
        var other = Enumerable.Range(0, 100).Select(i => $"m{i}").First(k => LocalEventHub.PartitionOf(k, 2) == 1);
        var delivered = new ConcurrentQueue<string>();
        hub.Subscribe("h", "g", (batch, _) =>
        {
            foreach (var e in batch) { delivered.Enqueue(Encoding.UTF8.GetString(e.Body.Span)); }
            return Task.CompletedTask;
        });
        var otherHub = 0;
        hub.Subscribe("x", "g", (batch, _) => { Interlocked.Add(ref otherHub, batch.Count); return Task.CompletedTask; });

        await hub.PublishAsync("h", [E(awaited, 1), E(other, 1)]);
        await hub.PublishAsync("x", [E(other, 1)]);
        await Task.Delay(50);
        await hub.WaitForPartitionAsync("h", awaited, TimeSpan.FromSeconds(30));
        Assert.Equal([$"{awaited}:1"], delivered);

        // The other partition still fills its batch (its window has not passed); another hub keeps its own window.
        await Task.Delay(100);
        Assert.Equal([$"{awaited}:1"], delivered);
        Assert.Equal(1, otherHub);

        // Waiting for the whole hub delivers the rest at once.
        await hub.WaitForIdleAsync("h", TimeSpan.FromSeconds(30));
        Assert.Equal([$"{awaited}:1", $"{other}:1"], delivered);
    }

    [Fact]
    public async Task Waiting_for_one_hub_does_not_wait_for_another()
    {
        await using var hub = NewHub(partitions: 1);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fast = 0;
        hub.Subscribe("slow", "g", async (_, _) => await release.Task);
        hub.Subscribe("fast", "g", (batch, _) => { Interlocked.Add(ref fast, batch.Count); return Task.CompletedTask; });

        await hub.PublishAsync("slow", [E("k", 1)]);
        await hub.PublishAsync("fast", [E("k", 1), E("k", 2)]);
        await hub.WaitForIdleAsync("fast", TimeSpan.FromSeconds(30));
        Assert.Equal(2, fast);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hub.WaitForIdleAsync("slow", TimeSpan.FromMilliseconds(200)));

        release.SetResult();
        await hub.WaitForIdleAsync(TimeSpan.FromSeconds(30));
        Assert.All(hub.Stats(), s => Assert.Equal(s.Published, s.Checkpointed));
    }

    [Fact]
    public async Task Waiting_for_a_key_waits_for_its_partition_only()
    {
        await using var hub = NewHub(partitions: 2);
        var blocked = Enumerable.Range(0, 100).Select(i => $"m{i}").First(k => LocalEventHub.PartitionOf(k, 2) == 0);
        var free = Enumerable.Range(0, 100).Select(i => $"m{i}").First(k => LocalEventHub.PartitionOf(k, 2) == 1);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var delivered = new ConcurrentQueue<string>();
        hub.Subscribe("h", "g", async (batch, _) =>
        {
            var keys = batch.Select(e => Encoding.UTF8.GetString(e.Body.Span).Split(':')[0]).ToList();
            if (keys.Contains(blocked))
            {
                await release.Task;
            }

            foreach (var key in keys) { delivered.Enqueue(key); }
        });

        await hub.PublishAsync("h", [E(blocked, 1), E(free, 1), E(free, 2)]);
        await hub.WaitForPartitionAsync("h", free, TimeSpan.FromSeconds(30));
        Assert.Equal([free, free], delivered);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hub.WaitForPartitionAsync("h", blocked, TimeSpan.FromMilliseconds(200)));

        release.SetResult();
        await hub.WaitForPartitionAsync("h", blocked, TimeSpan.FromSeconds(30));
        Assert.Contains(blocked, delivered);
    }

    [Fact]
    public void Partitioning_is_stable_and_spreads_keys()
    {
        Assert.Equal(LocalEventHub.PartitionOf("member-42", 8), LocalEventHub.PartitionOf("member-42", 8));
        var used = Enumerable.Range(0, 200).Select(i => LocalEventHub.PartitionOf(i.ToString(System.Globalization.CultureInfo.InvariantCulture), 4)).Distinct().Count();
        Assert.Equal(4, used);
    }
}
