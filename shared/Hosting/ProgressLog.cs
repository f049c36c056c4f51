using Microsoft.Extensions.Logging;

namespace Serverless.Hosting;

/// <summary>
/// Progress lines of a long job phase, at most one per interval: how much is done (of how much, when
/// the total is known), the rate so far and the time left at that rate. Reads the count through
/// <c>done</c>, so the work itself needs no logging; stops when disposed.
/// </summary>
public sealed class ProgressLog : IAsyncDisposable
{
    private readonly ILogger logger;
    private readonly string phase;
    private readonly string unit;
    private readonly long? total;
    private readonly Func<long> done;
    private readonly TimeProvider time;
    private readonly long started;
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;

    private ProgressLog(ILogger logger, string phase, string unit, long? total, Func<long> done, TimeSpan interval, TimeProvider time)
    {
        this.logger = logger;
        this.phase = phase;
        this.unit = unit;
        this.total = total;
        this.done = done;
        this.time = time;
        started = time.GetTimestamp();
        loop = RunAsync(interval);
    }

    /// <summary>Starts logging the progress of <paramref name="phase"/> every <paramref name="interval"/> (wall time: pass <see cref="TimeProvider.System"/>, not a replay clock).</summary>
    public static ProgressLog Start(ILogger logger, string phase, string unit, long? total, Func<long> done, TimeSpan interval, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        return new ProgressLog(logger, phase, unit, total, done, interval, time);
    }

    /// <summary>Logs one progress line now.</summary>
    public void Report()
    {
        var count = done();
        var elapsed = time.GetElapsedTime(started);
        var progress = new ProgressRate(count, total, elapsed);
        if (total is not { } all)
        {
            logger.LogInformation("{Phase}: {Done} {Unit} ({Rate:F0}/s, {Elapsed:F0} s so far)", phase, count, unit, progress.PerSecond, elapsed.TotalSeconds);
        }
        else if (progress.Left is { } left)
        {
            logger.LogInformation("{Phase}: {Done} of {Total} {Unit} ({Rate:F0}/s), about {Left:F0} s left", phase, count, all, unit, progress.PerSecond, left.TotalSeconds);
        }
        else
        {
            logger.LogInformation("{Phase}: {Done} of {Total} {Unit} ({Elapsed:F0} s so far), time left unknown", phase, count, all, unit, elapsed.TotalSeconds);
        }
    }

    private async Task RunAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop.Token))
            {
                Report();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await loop;
        stop.Dispose();
    }
}

/// <summary>
/// What a progress line says besides the count: the rate so far and the time left at that rate.
/// Pure, so an orchestrator computes it from its replay-safe clock (<c>context.CurrentUtcDateTime</c>)
/// as <see cref="ProgressLog"/> does from wall time.
/// </summary>
public readonly record struct ProgressRate(long Done, long? Total, TimeSpan Elapsed)
{
    /// <summary>Units done per second so far (0 before any time has passed).</summary>
    public double PerSecond => Elapsed > TimeSpan.Zero ? Done / Elapsed.TotalSeconds : 0;

    /// <summary>The time the rest takes at <see cref="PerSecond"/>; null without a total or while the rate is unknown (nothing done, no time passed).</summary>
    public TimeSpan? Left => Total is { } all && PerSecond > 0 ? TimeSpan.FromSeconds(Math.Max(0, all - Done) / PerSecond) : null;
}

/// <summary>The latest count reported by a piece of work, readable from another thread (feeds a <see cref="ProgressLog"/>).</summary>
public sealed class ProgressCounter : IProgress<long>
{
    private long value;

    public long Value => Interlocked.Read(ref value);

    public void Report(long value) => Interlocked.Exchange(ref this.value, value);
}

/// <summary>
/// Progress of a job made of stages (training: read, build the set, scan for leakage, train, check,
/// store): a line when each stage starts (its number of how many, the time so far and how long the
/// one before took), a "still in" line every interval while a stage runs long, and a summary of
/// every stage's time when disposed.
/// </summary>
public sealed class StageLog : IAsyncDisposable
{
    private readonly ILogger logger;
    private readonly string job;
    private readonly int stages;
    private readonly TimeProvider time;
    private readonly long started;
    private readonly List<(string Stage, TimeSpan Took)> finished = [];
    private readonly object gate = new();
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;
    private string? current;
    private long currentStarted;

    private StageLog(ILogger logger, string job, int stages, TimeSpan interval, TimeProvider time)
    {
        this.logger = logger;
        this.job = job;
        this.stages = stages;
        this.time = time;
        started = time.GetTimestamp();
        loop = RunAsync(interval);
    }

    /// <summary>Starts the log of <paramref name="job"/>, which has <paramref name="stages"/> stages (wall time: pass <see cref="TimeProvider.System"/>).</summary>
    public static StageLog Start(ILogger logger, string job, int stages, TimeSpan interval, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfLessThan(stages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        return new StageLog(logger, job, stages, interval, time);
    }

    /// <summary>The stages finished so far, with how long each took.</summary>
    public IReadOnlyList<(string Stage, TimeSpan Took)> Finished { get { lock (gate) { return finished.ToList(); } } }

    /// <summary>Ends the current stage (if any) and starts <paramref name="stage"/>.</summary>
    public void Enter(string stage)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(stage);
        lock (gate)
        {
            var previous = EndCurrent();
            current = stage;
            currentStarted = time.GetTimestamp();
            var number = finished.Count + 1;
            var elapsed = time.GetElapsedTime(started).TotalSeconds;
            if (previous is { } p)
            {
                logger.LogInformation("{Job}: {Stage} (stage {Number} of {Stages}, {Elapsed:F1} s so far; {Previous} took {PreviousSeconds:F1} s)",
                    job, stage, number, Math.Max(stages, number), elapsed, p.Stage, p.Took.TotalSeconds);
            }
            else
            {
                logger.LogInformation("{Job}: {Stage} (stage {Number} of {Stages}, {Elapsed:F1} s so far)", job, stage, number, Math.Max(stages, number), elapsed);
            }
        }
    }

    /// <summary>Logs a line for the stage that is running now, if any.</summary>
    public void Report() => Report(TimeSpan.Zero);

    /// <summary>Logs a line for the stage running now if it has run at least <paramref name="atLeast"/> (no "still" line for a stage that just began).</summary>
    private void Report(TimeSpan atLeast)
    {
        lock (gate)
        {
            if (current is not null && time.GetElapsedTime(currentStarted) >= atLeast)
            {
                logger.LogInformation("{Job}: still {Stage} (stage {Number} of {Stages}), {StageSeconds:F0} s in it, {Elapsed:F0} s in all",
                    job, current, finished.Count + 1, Math.Max(stages, finished.Count + 1), time.GetElapsedTime(currentStarted).TotalSeconds, time.GetElapsedTime(started).TotalSeconds);
            }
        }
    }

    private (string Stage, TimeSpan Took)? EndCurrent()
    {
        if (current is null)
        {
            return null;
        }

        var done = (current, time.GetElapsedTime(currentStarted));
        finished.Add(done);
        current = null;
        return done;
    }

    private async Task RunAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop.Token))
            {
                Report(interval);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>Ends the last stage and logs every stage's time.</summary>
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await loop;
        stop.Dispose();
        lock (gate)
        {
            EndCurrent();
            logger.LogInformation("{Job}: {Count} stages in {Elapsed:F1} s ({Breakdown})", job, finished.Count, time.GetElapsedTime(started).TotalSeconds,
                string.Join(", ", finished.Select(s => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{s.Stage} {s.Took.TotalSeconds:F1} s"))));
        }
    }
}
