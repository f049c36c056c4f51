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
    public void Partitioning_is_stable_and_spreads_keys()
    {
        Assert.Equal(LocalEventHub.PartitionOf("member-42", 8), LocalEventHub.PartitionOf("member-42", 8));
        var used = Enumerable.Range(0, 200).Select(i => LocalEventHub.PartitionOf(i.ToString(System.Globalization.CultureInfo.InvariantCulture), 4)).Distinct().Count();
        Assert.Equal(4, used);
    }
}
