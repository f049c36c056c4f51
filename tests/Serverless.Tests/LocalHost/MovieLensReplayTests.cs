using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Serverless.Events;
using Serverless.Facts;
using Serverless.LocalHost.Replay;
using Serverless.MovieLens;
using Serverless.Ranking;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.LocalHost;

public sealed class MovieLensReplayTests
{
    private static readonly IReadOnlyList<FactEnvelope> Facts = MovieLensFacts.Load(Repo.Path("data", "movielens"), maxRatings: 3000);

    /// <summary>Counts publish calls and remembers the ids of the facts published, in order, and the clock's time when each went out (its enqueued time).</summary>
    private sealed class RecordingPublisher(TimeProvider? clock = null) : IEventPublisher
    {
        public int Calls { get; private set; }
        public List<string> Ids { get; } = [];
        public List<DateTimeOffset> Enqueued { get; } = [];

        public ValueTask PublishAsync(string hub, IReadOnlyList<OutgoingEvent> events, CancellationToken cancellationToken = default)
        {
            Assert.Equal(Hubs.Facts, hub);
            Calls++;
            Ids.AddRange(events.Select(e => JsonSerializer.Deserialize<FactEnvelope>(e.Body.Span, FactJson.Options)!.Id!));
            Enqueued.AddRange(events.Select(_ => (clock ?? TimeProvider.System).GetUtcNow()));
            return ValueTask.CompletedTask;
        }

        public Task FlushAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;
    }

    /// <summary>Wants every tenth rating and checks, when called, that every earlier fact was published.</summary>
    private sealed class EveryTenthRating(RecordingPublisher publisher, IReadOnlyList<FactEnvelope> facts) : IReplayHook
    {
        private int ratings;
        public int Called { get; private set; }

        public bool Wants(FactEnvelope fact) => fact.Kind == "rating" && ++ratings % 10 == 0;

        public Task BeforeAsync(FactEnvelope fact, CancellationToken cancellationToken)
        {
            var index = facts.Select((f, i) => (f, i)).First(p => ReferenceEquals(p.f, fact)).i;
            Assert.Equal(facts.Take(index).Select(f => f.Id), publisher.Ids);
            Called++;
            return Task.CompletedTask;
        }
    }

    private static ReplayClock NewClock() => new(DateTimeOffset.FromUnixTimeSeconds(0));

    private static MovieLensReplay Replay(IEventPublisher publisher, ReplayClock? clock = null) =>
        new(publisher, clock ?? NewClock(), NullLogger<MovieLensReplay>.Instance);

    private static RankResponse Answer(RankRequest request, bool fallback = false) =>
        new(request.Member!, "log", request.AsOf ?? DateTimeOffset.UnixEpoch, "m", "h", null, fallback, null, true, []);

    [Fact]
    public async Task Facts_go_out_in_batches_and_only_a_fact_the_hook_wants_cuts_a_batch_short()
    {
        var plain = new RecordingPublisher();
        await Replay(plain).PublishAsync(Facts, null, null, CancellationToken.None);

        var hooked = new RecordingPublisher();
        var hook = new EveryTenthRating(hooked, Facts);
        await Replay(hooked).PublishAsync(Facts, null, hook, CancellationToken.None);

        Assert.Equal(Facts.Select(f => f.Id), hooked.Ids);
        Assert.Equal(Facts.Count(f => f.Kind == "rating") / 10, hook.Called);
        // One batch per moment of history, plus at most one more per fact the hook wanted; never one per fact.
        Assert.InRange(hooked.Calls, plain.Calls, plain.Calls + hook.Called);
    }

    [Fact]
    public async Task Replay_traffic_waits_for_the_archive_before_each_request_and_repeats_its_choices_with_the_same_seed()
    {
        async Task<List<string>> RunAsync()
        {
            var publisher = new RecordingPublisher();
            var requests = new List<string>();
            var waited = 0;
            string? waitedFor = null;
            var traffic = new ReplayTraffic(Facts, NewClock(),
                (request, _) =>
                {
                    Assert.Equal(requests.Count + 1, waited);
                    Assert.Equal(waitedFor, request.Member);
                    requests.Add(request.Member + ":" + string.Join(",", request.Candidates!));
                    return Task.FromResult(Answer(request, fallback: requests.Count % 2 == 0));
                },
                (member, _) => { waited++; waitedFor = member; return Task.CompletedTask; },
                rate: 0.05);
            await Replay(publisher).PublishAsync(Facts, null, traffic, CancellationToken.None);
            Assert.Equal(requests.Count, traffic.Requests);
            Assert.Equal(requests.Count / 2, traffic.Fallbacks);
            Assert.Equal(requests.Count, traffic.Logged);
            return requests;
        }

        var first = await RunAsync();
        var second = await RunAsync();
        Assert.InRange(first.Count, 100, 200); // 5% of 3,000 ratings
        Assert.Equal(first, second);
    }

    [Fact]
    public async Task Replay_traffic_keeps_requests_in_flight_while_the_replay_goes_on_and_each_sees_only_what_came_before_it()
    {
        var clock = NewClock();
        var publisher = new RecordingPublisher(clock);
        var waitedAt = new List<int>();
        var made = new List<RankRequest>();
        var inFlight = 0;
        var mostInFlight = 0;
        var traffic = new ReplayTraffic(Facts, clock,
            async (request, ct) =>
            {
                made.Add(request); // called at once when the archive is in (here: always), so in the order requests are made
                mostInFlight = Math.Max(mostInFlight, Interlocked.Increment(ref inFlight));
                await Task.Delay(5, ct);
                Interlocked.Decrement(ref inFlight);
                return Answer(request);
            },
            (member, _) =>
            {
                // Called when the request is made: what has been published so far is what it must see.
                lock (waitedAt) { waitedAt.Add(publisher.Ids.Count); }
                return Task.CompletedTask;
            },
            rate: 0.05, maxInFlight: 4);
        await Replay(publisher, clock).PublishAsync(Facts, null, traffic, CancellationToken.None);
        var requests = made.Zip(waitedAt, (request, before) => (Request: request, PublishedBefore: before)).ToList();

        // Everything was published, every request was answered, and the replay went on while up to four were under way.
        Assert.Equal(Facts.Select(f => f.Id), publisher.Ids);
        Assert.Equal(requests.Count, traffic.Requests);
        Assert.InRange(requests.Count, 100, 200);
        Assert.InRange(mostInFlight, 2, 4);
        Assert.Equal(requests.Select(r => r.PublishedBefore), waitedAt);

        foreach (var (request, before) in requests)
        {
            // As of a moment after every fact published before the request and before every fact published after it,
            // the sampled rating first among them.
            Assert.All(publisher.Enqueued.Take(before), t => Assert.True(t <= request.AsOf));
            Assert.All(publisher.Enqueued.Skip(before), t => Assert.True(t > request.AsOf));
            Assert.Equal(request.Member, Facts[before].Member);
        }
    }

    [Fact]
    public async Task A_request_that_fails_in_flight_fails_the_replay()
    {
        var traffic = new ReplayTraffic(Facts, NewClock(),
            async (request, _) =>
            {
                await Task.Yield();
                throw new InvalidOperationException("rank failed");
            },
            (_, _) => Task.CompletedTask, rate: 0.05);
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => Replay(new RecordingPublisher()).PublishAsync(Facts, null, traffic, CancellationToken.None));
        Assert.Equal("rank failed", failure.Message);
    }
}
