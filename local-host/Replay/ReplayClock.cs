namespace Serverless.LocalHost.Replay;

/// <summary>
/// A clock for replaying history: it runs at wall-clock speed from wherever it was last moved to,
/// and only moves forward. The replay moves it to each event's time before publishing, so ingest
/// times (the hub's enqueued times) follow the replayed history.
/// </summary>
public sealed class ReplayClock : TimeProvider
{
    private readonly TimeProvider wall;
    private long offsetTicks;

    public ReplayClock(DateTimeOffset start, TimeProvider? wall = null)
    {
        this.wall = wall ?? System;
        offsetTicks = (start - this.wall.GetUtcNow()).Ticks;
    }

    public override DateTimeOffset GetUtcNow() => wall.GetUtcNow().AddTicks(Interlocked.Read(ref offsetTicks));

    /// <summary>Moves the clock to <paramref name="time"/> if that is later than now.</summary>
    public void AdvanceTo(DateTimeOffset time)
    {
        while (true)
        {
            var current = Interlocked.Read(ref offsetTicks);
            var wanted = (time - wall.GetUtcNow()).Ticks;
            if (wanted <= current || Interlocked.CompareExchange(ref offsetTicks, wanted, current) == current)
            {
                return;
            }
        }
    }
}
