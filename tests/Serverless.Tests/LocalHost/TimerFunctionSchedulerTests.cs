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
        var method = typeof(TimerProbe).GetMethod(nameof(TimerProbe.Probe))!;
        var function = new FunctionDescriptor("probe", method, TriggerKind.Timer, method.GetParameters()[0]);
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 1, TimeSpan.Zero));
        using var scheduler = new TimerFunctionScheduler(new HostedFunctions([function]), new EmptyServices(), clock, NullLogger<TimerFunctionScheduler>.Instance);
        await scheduler.StartAsync(CancellationToken.None);

        // Move the clock exactly onto each occurrence (:10, :20, :30) and let the run happen before moving on.
        await Task.Delay(50);
        clock.Advance(TimeSpan.FromSeconds(9));
        await WaitFor(1);
        clock.Advance(TimeSpan.FromSeconds(10));
        await WaitFor(2);
        clock.Advance(TimeSpan.FromSeconds(10));
        await WaitFor(3);
        Assert.All(Runs.Take(3), r => Assert.False(r.IsPastDue));
        Assert.Equal(new DateTime(2026, 1, 1, 0, 0, 40, DateTimeKind.Utc), Runs[2].ScheduleStatus!.Next);

        clock.Advance(TimeSpan.FromHours(1));
        await WaitFor(4);
        await Task.Delay(50);
        Assert.Equal(4, Runs.Count);
        Assert.True(Runs[3].IsPastDue);
        await scheduler.StopAsync(CancellationToken.None);
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
