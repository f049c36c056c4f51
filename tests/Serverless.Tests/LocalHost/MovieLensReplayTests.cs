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

    /// <summary>Counts publish calls and remembers the ids of the facts published, in order.</summary>
    private sealed class RecordingPublisher : IEventPublisher
    {
        public int Calls { get; private set; }
        public List<string> Ids { get; } = [];

        public ValueTask PublishAsync(string hub, IReadOnlyList<OutgoingEvent> events, CancellationToken cancellationToken = default)
        {
            Assert.Equal(Hubs.Facts, hub);
            Calls++;
            Ids.AddRange(events.Select(e => JsonSerializer.Deserialize<FactEnvelope>(e.Body.Span, FactJson.Options)!.Id!));
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

    private static MovieLensReplay Replay(IEventPublisher publisher) =>
        new(publisher, new ReplayClock(DateTimeOffset.FromUnixTimeSeconds(0)), NullLogger<MovieLensReplay>.Instance);

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
            var traffic = new ReplayTraffic(Facts,
                (request, _) =>
                {
                    Assert.Equal(requests.Count + 1, waited);
                    Assert.Equal(waitedFor, request.Member);
                    requests.Add(request.Member + ":" + string.Join(",", request.Candidates!));
                    return Task.FromResult(new RankResponse(request.Member!, "log", DateTimeOffset.UnixEpoch, "m", "h", null, requests.Count % 2 == 0, null, true, []));
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
}
