using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Serverless.Events;
using Serverless.Lumberjack;
using Serverless.Ranking;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Lumberjack;

public sealed class FeatureLogBufferTests
{
    private static readonly DateTimeOffset T0 = new(2018, 3, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Keeps copies of what it is handed (the caller reuses the bodies' memory afterwards).</summary>
    private sealed class RecordingPublisher : IEventPublisher, IServiceProvider
    {
        public List<(string Hub, OutgoingEvent Event)> Events { get; } = [];

        public int Publishes { get; private set; }

        /// <summary>Calls of PublishAsync, failed ones included.</summary>
        public int Attempts { get; private set; }

        public bool Fail { get; set; }

        /// <summary>The next this many publishes fail (then they succeed again).</summary>
        public int FailNext { get; set; }

        /// <summary>When set, a publish sends this many events and then fails.</summary>
        public int? FailAfter { get; set; }

        /// <summary>When set, the next publish sends this many events and then fails (once).</summary>
        public int? FailOnceAfter { get; set; }

        public ValueTask PublishAsync(string hub, IReadOnlyList<OutgoingEvent> events, CancellationToken cancellationToken = default)
        {
            Attempts++;
            if (Fail || FailNext-- > 0)
            {
                throw new InvalidOperationException("hub unavailable");
            }

            if ((FailAfter ?? FailOnceAfter) is { } sent)
            {
                FailOnceAfter = null;
                lock (Events)
                {
                    Events.AddRange(events.Take(sent).Select(e => (hub, e with { Body = e.Body.ToArray() })));
                }

                throw new EventPublishException(sent, "connection lost", new IOException("reset"));
            }

            lock (Events)
            {
                Publishes++;
                Events.AddRange(events.Select(e => (hub, e with { Body = e.Body.ToArray() })));
            }

            return ValueTask.CompletedTask;
        }

        public Task FlushAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

        public object? GetService(Type serviceType) => serviceType == typeof(IEventPublisher) ? this : null;
    }

    private static LoggedRequest Request(int i, int candidates = 3) => LoggedRequest.Capture(
        $"log{i}", T0.AddSeconds(i), $"{i % 7}", "v1", "hash1", T0, false,
        Enumerable.Range(0, candidates).Select(c => $"{100 + c}").ToArray(),
        Enumerable.Range(0, candidates).Select(c => new[] { i, c, i * 0.5f + c }).ToArray(),
        Enumerable.Range(0, candidates).Select(c => c / 10f).ToArray(),
        Enumerable.Range(0, candidates).Reverse().ToArray());

    private static FeatureLogBuffer Buffer(RecordingPublisher publisher, TimeSpan interval, int capacity = 10_000, int attempts = 5, TimeSpan? retryTimeout = null) =>
        new(Options.Create(new LumberjackOptions
        {
            PublishInterval = interval, BufferCapacity = capacity,
            PublishAttempts = attempts, PublishRetryDelay = TimeSpan.FromMilliseconds(1), PublishRetryTimeout = retryTimeout ?? TimeSpan.FromMinutes(1),
        }), publisher, NullLogger<FeatureLogBuffer>.Instance, new ServingMonitor(TimeProvider.System, TestMetrics.Unheard()), TestMetrics.Unheard());

    private static List<string> LogIds(RecordingPublisher publisher) =>
        publisher.Events.Select(e => FeatureLogEvent.Parse(e.Event.Body.Span).Records![0].LogId).ToList();

    [Fact]
    public void Capture_keeps_ranking_order_and_refuses_ragged_rows()
    {
        using var request = LoggedRequest.Capture("log", T0, "1", "v1", "hash1", T0, false, ["a", "b", "c"], [[1f, 2f], [3f, 4f], [5f, 6f]], [0.2f, 0.9f, 0.5f], [1, 2]);
        Assert.Equal(2, request.Count);
        Assert.Equal(["b", "c"], request.Records().Select(r => r.Title));
        Assert.Equal([3f, 4f], request.Features(0).ToArray());
        Assert.Equal(0.5f, request.Score(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => request.Title(2));

        Assert.Throws<ArgumentException>(() => LoggedRequest.Capture("log", T0, "1", "v1", "hash1", T0, false, ["a", "b"], [[1f, 2f], [3f]], [0.1f, 0.2f], [1, 0]));
        Assert.Throws<ArgumentException>(() => LoggedRequest.Capture("log", T0, "1", "v1", "hash1", T0, false, ["a"], [[1f]], [0.1f, 0.2f], [0]));
        Assert.Throws<ArgumentException>(() => LoggedRequest.Capture("log", T0, "1", "v1", "hash1", T0, false, ["a"], [[]], [0.1f], [0]));
    }

    [Fact]
    public void A_disposed_request_cannot_be_read()
    {
        var request = Request(1);
        request.Dispose();
        request.Dispose();
        Assert.Throws<ObjectDisposedException>(() => request.Title(0));
    }

    [Fact]
    public async Task Every_queued_request_is_published_once_as_its_own_event_and_then_released()
    {
        var publisher = new RecordingPublisher();
        using var buffer = Buffer(publisher, TimeSpan.FromMilliseconds(5));
        await buffer.StartAsync(CancellationToken.None);
        var requests = Enumerable.Range(0, 250).Select(i => Request(i)).ToList();
        var expected = requests.Select(r => r.Records()).ToList();
        Assert.All(requests, r => Assert.True(buffer.TryLog(r)));

        await buffer.DrainAsync(TimeSpan.FromSeconds(10));
        await buffer.StopAsync(CancellationToken.None);

        Assert.Equal(250, buffer.Published);
        Assert.Equal(0, buffer.Dropped);
        Assert.All(publisher.Events, e => Assert.Equal(Hubs.FeatureLog, e.Hub));
        Assert.All(publisher.Events, e => Assert.Null(e.Event.PartitionKey));
        var parsed = publisher.Events.Select(e => FeatureLogEvent.Parse(e.Event.Body.Span)).ToList();
        Assert.All(parsed, p => Assert.Null(p.Error));
        Assert.Equal(expected.Select(r => r[0].LogId), parsed.Select(p => p.Records![0].LogId));
        Assert.Equal(
            expected.SelectMany(r => r).Select(r => (r.Title, r.Position, r.Score, string.Join(",", r.Features))),
            parsed.SelectMany(p => p.Records!).Select(r => (r.Title, r.Position, r.Score, string.Join(",", r.Features))));
        Assert.InRange(publisher.Publishes, 3, 250);
        Assert.All(requests, r => Assert.Throws<ObjectDisposedException>(() => r.Title(0)));
    }

    [Fact]
    public async Task Requests_gather_for_the_interval_and_go_out_in_one_publish()
    {
        var publisher = new RecordingPublisher();
        using var buffer = Buffer(publisher, TimeSpan.FromMilliseconds(300));
        await buffer.StartAsync(CancellationToken.None);
        for (var i = 0; i < 40; i++)
        {
            Assert.True(buffer.TryLog(Request(i)));
        }

        await buffer.DrainAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(40, buffer.Published);
        Assert.Equal(1, publisher.Publishes);
        await buffer.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Stopping_publishes_what_is_queued_without_waiting_out_the_interval()
    {
        var publisher = new RecordingPublisher();
        using var buffer = Buffer(publisher, TimeSpan.FromSeconds(10));
        await buffer.StartAsync(CancellationToken.None);
        for (var i = 0; i < 5; i++)
        {
            Assert.True(buffer.TryLog(Request(i)));
        }

        using var shutdown = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await buffer.StopAsync(shutdown.Token);

        Assert.False(shutdown.IsCancellationRequested);
        Assert.Equal(5, buffer.Published);
        Assert.Equal(5, publisher.Events.Count);
        Assert.False(buffer.TryLog(Request(9)));
        Assert.Equal(1, buffer.Dropped);
    }

    [Fact]
    public async Task A_failed_publish_is_retried_until_it_goes_out_and_nothing_is_lost_or_sent_twice()
    {
        var publisher = new RecordingPublisher { FailNext = 2 };
        using var buffer = Buffer(publisher, TimeSpan.FromMilliseconds(200));
        for (var i = 0; i < 10; i++)
        {
            Assert.True(buffer.TryLog(Request(i)));
        }

        Assert.Equal(10, buffer.Pending);
        await buffer.StartAsync(CancellationToken.None);
        await buffer.DrainAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((10L, 0L, 2L, 0L), (buffer.Published, buffer.Dropped, buffer.PublishRetries, buffer.Pending));
        Assert.Equal(3, publisher.Attempts);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"log{i}"), LogIds(publisher));
        await buffer.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task After_a_partial_failure_only_what_did_not_go_out_is_sent_again()
    {
        var publisher = new RecordingPublisher { FailOnceAfter = 3 };
        using var buffer = Buffer(publisher, TimeSpan.FromMilliseconds(200));
        await buffer.StartAsync(CancellationToken.None);
        for (var i = 0; i < 10; i++)
        {
            Assert.True(buffer.TryLog(Request(i)));
        }

        await buffer.DrainAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((10L, 0L, 1L), (buffer.Published, buffer.Dropped, buffer.PublishRetries));
        Assert.Equal(2, publisher.Attempts);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"log{i}"), LogIds(publisher));
        await buffer.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_publish_that_keeps_failing_is_dropped_and_counted_after_the_last_attempt_and_the_loop_goes_on()
    {
        var publisher = new RecordingPublisher { Fail = true };
        using var buffer = Buffer(publisher, TimeSpan.Zero, attempts: 3);
        await buffer.StartAsync(CancellationToken.None);
        Assert.True(buffer.TryLog(Request(1)));
        await buffer.DrainAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((0L, 1L, 2L), (buffer.Published, buffer.Dropped, buffer.PublishRetries));
        Assert.Equal(3, publisher.Attempts);

        publisher.Fail = false;
        Assert.True(buffer.TryLog(Request(2)));
        await buffer.DrainAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, buffer.Published);
        Assert.Equal(["log2"], LogIds(publisher));
        await buffer.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Retries_stop_at_the_total_time_bound_whatever_attempts_are_left()
    {
        var publisher = new RecordingPublisher { Fail = true };
        using var buffer = Buffer(publisher, TimeSpan.Zero, attempts: 100, retryTimeout: TimeSpan.Zero);
        await buffer.StartAsync(CancellationToken.None);
        Assert.True(buffer.TryLog(Request(1)));
        await buffer.DrainAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((1L, 0L, 1), (buffer.Dropped, buffer.PublishRetries, publisher.Attempts));
        await buffer.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Without_retries_a_publish_that_fails_part_way_counts_what_went_out_as_published()
    {
        var publisher = new RecordingPublisher { FailAfter = 3 };
        using var buffer = Buffer(publisher, TimeSpan.FromMilliseconds(200), attempts: 1);
        await buffer.StartAsync(CancellationToken.None);
        for (var i = 0; i < 10; i++)
        {
            Assert.True(buffer.TryLog(Request(i)));
        }

        await buffer.DrainAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3, buffer.Published);
        Assert.Equal(7, buffer.Dropped);
        Assert.Equal(3, publisher.Events.Count);
        await buffer.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Every_drop_reaches_the_serving_monitor_for_health()
    {
        var clock = new FakeTimeProvider(T0);
        var monitor = new ServingMonitor(clock, TestMetrics.Unheard());
        var publisher = new RecordingPublisher { Fail = true };
        using var buffer = new FeatureLogBuffer(Options.Create(new LumberjackOptions { PublishInterval = TimeSpan.Zero, BufferCapacity = 2, PublishAttempts = 1 }),
            publisher, NullLogger<FeatureLogBuffer>.Instance, monitor, TestMetrics.Unheard());

        // Two fill the buffer and fail to publish; the third finds it full.
        var accepted = Enumerable.Range(0, 3).Count(i => buffer.TryLog(Request(i)));
        Assert.Equal(2, accepted);
        await buffer.StartAsync(CancellationToken.None);
        await buffer.DrainAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(3, buffer.Dropped);
        Assert.Equal(3, monitor.Window().FeatureLogDrops);
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, monitor.Window().FeatureLogDrops);
        await buffer.StopAsync(CancellationToken.None);
    }
}
