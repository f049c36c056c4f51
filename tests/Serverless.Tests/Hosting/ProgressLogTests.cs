using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Serverless.Hosting;

namespace Serverless.Tests.Hosting;

public sealed class ProgressLogTests
{
    /// <summary>Keeps every formatted message; signals each one.</summary>
    private sealed class RecordingLogger : ILogger
    {
        private readonly object gate = new();
        private readonly List<string> messages = [];
        private TaskCompletionSource next = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<string> Messages { get { lock (gate) { return messages.ToList(); } } }

        public Task Next { get { lock (gate) { return next.Task; } } }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            TaskCompletionSource signal;
            lock (gate)
            {
                messages.Add(formatter(state, exception));
                signal = next;
                next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            signal.SetResult();
        }
    }

    [Fact]
    public async Task A_line_says_how_much_is_done_of_the_total_the_rate_and_the_time_left()
    {
        var time = new FakeTimeProvider();
        var logger = new RecordingLogger();
        var done = 0L;
        await using (var progress = ProgressLog.Start(logger, "Replay", "facts", 100, () => done, TimeSpan.FromHours(1), time))
        {
            time.Advance(TimeSpan.FromSeconds(5));
            done = 50;
            progress.Report();
        }

        Assert.Equal("Replay: 50 of 100 facts (10/s), about 5 s left", Assert.Single(logger.Messages));
    }

    [Fact]
    public async Task Without_a_total_a_line_says_how_much_is_done_and_the_rate()
    {
        var time = new FakeTimeProvider();
        var logger = new RecordingLogger();
        await using (var progress = ProgressLog.Start(logger, "Reading", "facts", null, () => 300, TimeSpan.FromHours(1), time))
        {
            time.Advance(TimeSpan.FromSeconds(10));
            progress.Report();
        }

        Assert.Equal("Reading: 300 facts (30/s, 10 s so far)", Assert.Single(logger.Messages));
    }

    [Fact]
    public async Task Lines_come_once_per_interval_and_stop_when_disposed()
    {
        var time = new FakeTimeProvider();
        var logger = new RecordingLogger();
        var done = 0L;
        var progress = ProgressLog.Start(logger, "Replay", "facts", 1000, () => done, TimeSpan.FromSeconds(5), time);
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.Empty(logger.Messages);

        var line = logger.Next;
        done = 100;
        time.Advance(TimeSpan.FromSeconds(1));
        await line.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("Replay: 100 of 1000 facts (20/s), about 45 s left", Assert.Single(logger.Messages));

        await progress.DisposeAsync();
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.Single(logger.Messages);
    }

    [Fact]
    public async Task A_staged_job_says_which_stage_of_how_many_runs_how_long_the_last_took_and_sums_up_when_done()
    {
        var time = new FakeTimeProvider();
        var logger = new RecordingLogger();
        await using (var stages = StageLog.Start(logger, "Training", 3, TimeSpan.FromHours(1), time))
        {
            stages.Enter("reading the archive");
            time.Advance(TimeSpan.FromSeconds(12));
            stages.Report();
            stages.Enter("training");
            time.Advance(TimeSpan.FromSeconds(3));
            stages.Enter("checking");
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(new[]
        {
            "Training: reading the archive (stage 1 of 3, 0.0 s so far)",
            "Training: still reading the archive (stage 1 of 3), 12 s in it, 12 s in all",
            "Training: training (stage 2 of 3, 12.0 s so far; reading the archive took 12.0 s)",
            "Training: checking (stage 3 of 3, 15.0 s so far; training took 3.0 s)",
            "Training: 3 stages in 16.0 s (reading the archive 12.0 s, training 3.0 s, checking 1.0 s)",
        }, logger.Messages.ToArray());
    }

    [Fact]
    public async Task A_long_stage_is_reported_once_per_interval()
    {
        var time = new FakeTimeProvider();
        var logger = new RecordingLogger();
        var stages = StageLog.Start(logger, "Training", 2, TimeSpan.FromSeconds(5), time);
        stages.Enter("training");
        var line = logger.Next;
        time.Advance(TimeSpan.FromSeconds(5));
        await line.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("Training: still training (stage 1 of 2), 5 s in it, 5 s in all", logger.Messages[^1]);
        await stages.DisposeAsync();
        Assert.Equal(3, logger.Messages.Count);
        Assert.Equal("training", Assert.Single(stages.Finished).Stage);
    }
}
