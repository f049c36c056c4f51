using Microsoft.Extensions.Time.Testing;
using Serverless.Ranking;

namespace Serverless.Tests.Ranking;

public sealed class RollingLatencyTests
{
    [Fact]
    public void Percentiles_are_exact_to_a_bin_and_never_above_the_largest_duration()
    {
        var window = new RollingLatency(new FakeTimeProvider());
        Assert.Equal(new LatencySummary(0, null), window.Summary(99));

        foreach (var ms in Enumerable.Range(1, 1000))
        {
            window.Record(TimeSpan.FromMilliseconds(ms));
        }

        var p50 = window.Summary(50);
        Assert.Equal(1000, p50.Count);
        Assert.InRange(p50.PercentileMs!.Value, 500, 500 * 1.1);
        Assert.InRange(window.Summary(99).PercentileMs!.Value, 990, 1000);
        Assert.Equal(1000, window.Summary(100).PercentileMs);
        Assert.InRange(window.Summary(0).PercentileMs!.Value, 1, 1.1);
    }

    [Fact]
    public void Bins_grow_by_an_eighth_of_a_doubling_and_hold_their_durations()
    {
        for (var ms = 0.005; ms < 600_000; ms *= 1.37)
        {
            var bin = RollingLatency.BinOf(ms);
            Assert.True(ms <= RollingLatency.UpperBoundMs(bin) * (1 + 1e-9), $"{ms} ms above its bin {bin}");
            Assert.True(bin == 0 || ms > RollingLatency.UpperBoundMs(bin - 1) * (1 - 1e-9), $"{ms} ms below its bin {bin}");
        }

        Assert.Equal(RollingLatency.Bins - 1, RollingLatency.BinOf(1e12));
    }

    [Fact]
    public void Only_the_last_minute_counts()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 27, 0, 0, 0, TimeSpan.Zero));
        var window = new RollingLatency(clock);
        window.Record(TimeSpan.FromSeconds(5));                 // second 0
        clock.Advance(TimeSpan.FromSeconds(30));
        window.Record(TimeSpan.FromMilliseconds(20));           // second 30
        window.Record(TimeSpan.FromMilliseconds(20));
        Assert.Equal(3, window.Summary(99).Count);
        Assert.Equal(5000, window.Summary(99).PercentileMs);

        clock.Advance(TimeSpan.FromSeconds(30));                // second 60: second 0 has left the window
        Assert.Equal(2, window.Summary(99).Count);
        Assert.InRange(window.Summary(99).PercentileMs!.Value, 20, 22);

        window.Record(TimeSpan.FromMilliseconds(1));            // second 60 reuses second 0's bucket
        Assert.Equal(3, window.Summary(99).Count);
        clock.Advance(TimeSpan.FromSeconds(30));                // second 90: only second 60 is left
        Assert.Equal(1, window.Summary(50).Count);
        Assert.Equal(1, window.Summary(50).PercentileMs);
        clock.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(new LatencySummary(0, null), window.Summary(99));
    }
}
