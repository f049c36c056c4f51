using Microsoft.Extensions.Logging;
using Serverless.Events;
using Serverless.Facts;
using Serverless.MovieLens;

namespace Serverless.LocalHost.Replay;

/// <summary>
/// Publishes MovieLens facts through the facts hub in event-time order. Speed: null = as fast as
/// possible; otherwise history runs that many times faster than real time. Partition key = member
/// (catalog entries: the title), so one member's facts stay ordered. Facts go out in batches (one per
/// moment of history); only a fact the hook wants (<see cref="IReplayHook"/>, the replay's traffic)
/// cuts a batch short, so the replay with traffic runs at the rate of the replay without it.
/// </summary>
public sealed class MovieLensReplay(IEventPublisher publisher, ReplayClock clock, ILogger<MovieLensReplay> logger)
{
    public Task<int> RunAsync(string folder, double? speed, int? maxRatings, CancellationToken cancellationToken) =>
        PublishAsync(MovieLensFacts.Load(folder, maxRatings), speed, null, cancellationToken);

    public async Task<int> PublishAsync(IReadOnlyList<FactEnvelope> facts, double? speed, IReplayHook? hook, CancellationToken cancellationToken)
    {
        logger.LogInformation("Replaying {Count} MovieLens facts at {Speed}", facts.Count, speed is null ? "max speed" : $"{speed}x");
        var batch = new List<OutgoingEvent>(512);
        DateTimeOffset? previous = null;
        foreach (var fact in facts)
        {
            var at = fact.EventTime!.Value;
            if (speed is { } s && previous is { } p && at > p)
            {
                await FlushAsync(batch, cancellationToken);
                await Task.Delay(TimeSpan.FromTicks((long)Math.Min((at - p).Ticks / s, TimeSpan.FromSeconds(10).Ticks)), cancellationToken);
            }

            if (previous != at)
            {
                await FlushAsync(batch, cancellationToken);
                clock.AdvanceTo(at);
                previous = at;
            }

            if (hook is not null && hook.Wants(fact))
            {
                await FlushAsync(batch, cancellationToken);
                await hook.BeforeAsync(fact, cancellationToken);
            }

            batch.Add(new OutgoingEvent(fact.Member ?? fact.Title!, FactJson.Serialize(fact)));
        }

        await FlushAsync(batch, cancellationToken);
        if (hook is not null)
        {
            await hook.CompleteAsync(cancellationToken);
        }

        await publisher.FlushAsync(cancellationToken);
        return facts.Count;
    }

    private async Task FlushAsync(List<OutgoingEvent> batch, CancellationToken cancellationToken)
    {
        if (batch.Count > 0)
        {
            await publisher.PublishAsync(Hubs.Facts, batch, cancellationToken);
            batch.Clear();
        }
    }
}
