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
        var seconds = time.GetElapsedTime(started).TotalSeconds;
        var rate = seconds > 0 ? count / seconds : 0;
        if (total is not { } all)
        {
            logger.LogInformation("{Phase}: {Done} {Unit} ({Rate:F0}/s, {Elapsed:F0} s so far)", phase, count, unit, rate, seconds);
        }
        else if (rate > 0)
        {
            logger.LogInformation("{Phase}: {Done} of {Total} {Unit} ({Rate:F0}/s), about {Left:F0} s left", phase, count, all, unit, rate, Math.Max(0, all - count) / rate);
        }
        else
        {
            logger.LogInformation("{Phase}: {Done} of {Total} {Unit} ({Elapsed:F0} s so far), time left unknown", phase, count, all, unit, seconds);
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

/// <summary>The latest count reported by a piece of work, readable from another thread (feeds a <see cref="ProgressLog"/>).</summary>
public sealed class ProgressCounter : IProgress<long>
{
    private long value;

    public long Value => Interlocked.Read(ref value);

    public void Report(long value) => Interlocked.Exchange(ref this.value, value);
}
