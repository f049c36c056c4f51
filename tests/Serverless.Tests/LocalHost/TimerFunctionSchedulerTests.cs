using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Serverless.LocalHost.Functions;
using Serverless.LocalHost.Timers;

namespace Serverless.Tests.LocalHost;

public sealed class TimerFunctionSchedulerTests
{
    private static List<TimerInfo> Runs => TimerProbe.Runs;

    [Fact]
    public async Task Timer_functions_run_on_schedule_and_a_clock_jump_runs_once_past_due()
    {
        lock (Runs) { Runs.Clear(); }
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 1, TimeSpan.Zero));
        var wall = new FakeTimeProvider(clock.GetUtcNow());
        using var scheduler = Scheduler(clock, wall);
        await scheduler.StartAsync(CancellationToken.None);

        // Move the clock (and real time with it) exactly onto each occurrence (:10, :20, :30) and let the run happen before moving on.
        await Task.Delay(50);
        Advance(TimeSpan.FromSeconds(9), clock, wall);
        await WaitFor(1);
        Advance(TimeSpan.FromSeconds(10), clock, wall);
        await WaitFor(2);
        Advance(TimeSpan.FromSeconds(10), clock, wall);
        await WaitFor(3);
        Assert.All(Runs.Take(3), r => Assert.False(r.IsPastDue));
        Assert.Equal(new DateTime(2026, 1, 1, 0, 0, 40, DateTimeKind.Utc), Runs[2].ScheduleStatus!.Next);

        Advance(TimeSpan.FromHours(1), clock, wall);
        await WaitFor(4);
        await Task.Delay(50);
        Assert.Equal(4, Runs.Count);
        Assert.True(Runs[3].IsPastDue);
        await scheduler.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_clock_that_replays_history_fast_runs_a_timer_at_most_once_per_its_interval_of_real_time()
    {
        lock (Runs) { Runs.Clear(); }
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 1, TimeSpan.Zero));
        var wall = new FakeTimeProvider(new DateTimeOffset(2030, 6, 1, 12, 0, 0, TimeSpan.Zero));
        using var scheduler = Scheduler(clock, wall);
        await scheduler.StartAsync(CancellationToken.None);
        await Task.Delay(50);

        // A replay: the host's clock passes an hour (360 occurrences of the 10-second schedule) in each of
        // 20 steps while real time stands still. The first due occurrence runs (past due); the rest wait.
        for (var step = 0; step < 20; step++)
        {
            Advance(TimeSpan.FromHours(1), clock);
            await Task.Delay(20);
        }

        await WaitFor(1);
        Assert.True(Runs[0].IsPastDue);
        await Task.Delay(200);
        Assert.Single(Runs);

        // Once the schedule's interval (10 s) has passed in real time, the timer runs again, once.
        Advance(TimeSpan.FromSeconds(10), wall);
        await WaitFor(2);
        Advance(TimeSpan.FromHours(1), clock);
        await Task.Delay(200);
        Assert.Equal(2, Runs.Count);
        Assert.True(Runs[1].IsPastDue);
        await scheduler.StopAsync(CancellationToken.None);
    }

    private static TimerFunctionScheduler Scheduler(TimeProvider clock, TimeProvider wall)
    {
        var method = typeof(TimerProbe).GetMethod(nameof(TimerProbe.Probe))!;
        var function = new FunctionDescriptor("probe", method, TriggerKind.Timer, method.GetParameters()[0]);
        return new TimerFunctionScheduler(new HostedFunctions([function]), new EmptyServices(), clock, new WallClock(wall), NullLogger<TimerFunctionScheduler>.Instance);
    }

    private static void Advance(TimeSpan by, params FakeTimeProvider[] clocks)
    {
        foreach (var clock in clocks)
        {
            clock.Advance(by);
        }
    }

    private static async Task WaitFor(int runs)
    {
        for (var i = 0; i < 1000 && Runs.Count < runs; i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal(runs, Runs.Count);
    }

    private sealed class EmptyServices : IServiceProvider, Microsoft.Extensions.DependencyInjection.IServiceScopeFactory
    {
        public object? GetService(Type serviceType) => serviceType == typeof(Microsoft.Extensions.DependencyInjection.IServiceScopeFactory) ? this : null;

        public Microsoft.Extensions.DependencyInjection.IServiceScope CreateScope() => new Scope(this);

        private sealed class Scope(IServiceProvider services) : Microsoft.Extensions.DependencyInjection.IServiceScope
        {
            public IServiceProvider ServiceProvider => services;

            public void Dispose()
            {
            }
        }
    }
}

/// <summary>A timer function as the app would write one.</summary>
public static class TimerProbe
{
    public static readonly List<TimerInfo> Runs = [];

    public static Task Probe([TimerTrigger("*/10 * * * * *")] TimerInfo timer)
    {
        lock (Runs) { Runs.Add(timer); }
        return Task.CompletedTask;
    }
}
