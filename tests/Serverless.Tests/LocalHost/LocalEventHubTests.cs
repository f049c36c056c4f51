using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Serverless.Events;
using Serverless.LocalHost.Hub;

namespace Serverless.Tests.LocalHost;

public sealed class LocalEventHubTests
{
    private static LocalEventHub NewHub(int partitions = 4, int maxBatch = 50) =>
        new(new LocalHubOptions { PartitionCount = partitions, MaxBatchSize = maxBatch, MaxWait = TimeSpan.FromMilliseconds(5), FirstRetryDelay = TimeSpan.FromMilliseconds(5) },
            TimeProvider.System, NullLogger<LocalEventHub>.Instance);

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
