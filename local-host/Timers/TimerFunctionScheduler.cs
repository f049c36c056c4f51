using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serverless.Hosting;
using Serverless.LocalHost.Functions;

namespace Serverless.LocalHost.Timers;

/// <summary>Real time, as opposed to the host's clock (which replays history and can pass an hour in milliseconds).</summary>
public sealed record WallClock(TimeProvider Time);

/// <summary>
/// Runs every timer-triggered function on its schedule with the host's clock. A run that is late
/// (the clock passed one or more occurrences) runs once with IsPastDue, as the Functions host does;
/// a failed run is logged and the schedule goes on. A timer also runs at most once per its schedule's
/// interval of wall-clock time (an hourly timer at most once an hour), however fast a replay moves the
/// host's clock, so work meant for every hour does not run thousands of times in a replay.
/// </summary>
public sealed class TimerFunctionScheduler(HostedFunctions hosted, IServiceProvider services, TimeProvider time, WallClock wall, ILogger<TimerFunctionScheduler> logger) : BackgroundService
{
    /// <summary>Slack under the interval, so a timer on a clock that is the wall clock keeps its exact occurrences.</summary>
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(1);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(hosted.Functions.Where(f => f.Trigger == TriggerKind.Timer).Select(f => RunAsync(f, stoppingToken)));

    private async Task RunAsync(FunctionDescriptor function, CancellationToken stop)
    {
        var trigger = (TimerTriggerAttribute)function.TriggerAttribute;
        if (ResolveSchedule(trigger.Schedule, services.GetService<IConfiguration>()) is not { } expression)
        {
            // The Functions host would refuse to index it; locally the timer is an opt-in (environment Precompute__Schedule).
            logger.LogInformation("Timer function {Function} is not scheduled: its schedule {Schedule} names a setting that is not configured", function.Name, trigger.Schedule);
            return;
        }

        var schedule = CronSchedule.Parse(expression);
        var bind = ParameterBinder.Compile(function);
        var last = time.GetUtcNow();
        var next = trigger.RunOnStartup ? last : schedule.Next(last);
        var notBeforeWall = DateTimeOffset.MinValue;

        while (!stop.IsCancellationRequested)
        {
            // Due on the host's clock, then (after a run) not before its interval has passed in real time.
            var (wait, clock) = next - time.GetUtcNow() is var due && due > TimeSpan.Zero ? (due, time) : (notBeforeWall - wall.Time.GetUtcNow(), wall.Time);
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait < TimeSpan.FromSeconds(1) ? wait : TimeSpan.FromSeconds(1), clock, stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            var now = time.GetUtcNow();
            var info = new TimerInfo
            {
                IsPastDue = now - next > TimeSpan.FromSeconds(1),
                ScheduleStatus = new ScheduleStatus { Last = last.UtcDateTime, Next = schedule.Next(now).UtcDateTime, LastUpdated = now.UtcDateTime },
            };
            var interval = schedule.IntervalAfter(next);
            notBeforeWall = wall.Time.GetUtcNow() + (interval > Slack ? interval - Slack : TimeSpan.Zero);
            try
            {
                await using var scope = services.CreateAsyncScope();
                await function.InvokeAsync(scope.ServiceProvider, bind(new InvocationValues(scope.ServiceProvider, stop, Timer: info)));
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                logger.LogError(ex, "Timer function {Function} failed; next run at {Next:O}", function.Name, schedule.Next(now));
            }

            last = now;
            next = schedule.Next(now);
        }
    }

    /// <summary>
    /// A schedule as the Functions host reads it: <c>%Name%</c> is the app setting Name (looked up as
    /// Name and as the configuration key with "__" read as ":"); anything else is the expression itself.
    /// </summary>
    public static string? ResolveSchedule(string schedule, IConfiguration? configuration)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        if (schedule.Length < 3 || schedule[0] != '%' || schedule[^1] != '%')
        {
            return schedule;
        }

        var name = schedule[1..^1];
        return configuration?[name] is { Length: > 0 } direct ? direct
            : configuration?[name.Replace("__", ":", StringComparison.Ordinal)] is { Length: > 0 } nested ? nested
            : null;
    }
}
