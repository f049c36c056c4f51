namespace Serverless.Ranking;

/// <summary>How many durations a window holds and a percentile of them (null when it holds none).</summary>
public readonly record struct LatencySummary(int Count, double? PercentileMs);

/// <summary>
/// Durations recorded over the last minute, for health figures: 60 per-second buckets, each a
/// fixed log-scale histogram (8 bins per doubling from 0.01 ms, so a percentile is exact to about
/// 9%, and never above the largest duration recorded). Recording takes one short lock of the
/// current second's bucket; a summary merges the buckets of the last 60 seconds. Time comes from
/// the injected <see cref="TimeProvider"/>.
/// </summary>
public sealed class RollingLatency(TimeProvider time)
{
    /// <summary>The window, in one-second buckets.</summary>
    public const int WindowSeconds = 60;

    private const int BinsPerDoubling = 8;
    private const double SmallestMs = 0.01;

    /// <summary>Bins of a histogram: 0.01 ms up to about 11 minutes; longer durations land in the last.</summary>
    public const int Bins = BinsPerDoubling * 26;

    private readonly Bucket[] buckets = Enumerable.Range(0, WindowSeconds).Select(_ => new Bucket()).ToArray();

    public void Record(TimeSpan duration)
    {
        var ms = Math.Max(0, duration.TotalMilliseconds);
        var second = SecondOf(time.GetUtcNow());
        var bucket = buckets[(int)(((second % WindowSeconds) + WindowSeconds) % WindowSeconds)];
        var bin = BinOf(ms);
        lock (bucket.Gate)
        {
            if (bucket.Second != second)
            {
                Array.Clear(bucket.Counts);
                bucket.Count = 0;
                bucket.MaxMs = 0;
                bucket.Second = second;
            }

            bucket.Counts[bin]++;
            bucket.Count++;
            bucket.MaxMs = Math.Max(bucket.MaxMs, ms);
        }
    }

    /// <summary>The durations recorded in the last <see cref="WindowSeconds"/> seconds and their <paramref name="percentile"/> (0..100).</summary>
    public LatencySummary Summary(double percentile)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(percentile, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100);
        var now = SecondOf(time.GetUtcNow());
        var merged = new long[Bins];
        long count = 0;
        var max = 0.0;
        foreach (var bucket in buckets)
        {
            lock (bucket.Gate)
            {
                if (bucket.Count == 0 || bucket.Second <= now - WindowSeconds || bucket.Second > now)
                {
                    continue;
                }

                for (var i = 0; i < Bins; i++)
                {
                    merged[i] += bucket.Counts[i];
                }

                count += bucket.Count;
                max = Math.Max(max, bucket.MaxMs);
            }
        }

        if (count == 0)
        {
            return new LatencySummary(0, null);
        }

        // The smallest duration with at least percentile% of the recorded ones at or below it.
        var rank = Math.Max(1, (long)Math.Ceiling(percentile / 100 * count));
        long seen = 0;
        for (var i = 0; i < Bins; i++)
        {
            seen += merged[i];
            if (seen >= rank)
            {
                return new LatencySummary((int)Math.Min(count, int.MaxValue), Math.Min(UpperBoundMs(i), max));
            }
        }

        return new LatencySummary((int)Math.Min(count, int.MaxValue), max);
    }

    /// <summary>The histogram bin of a duration: bin 0 holds [0, 0.01 ms], bin i the durations up to 0.01 ms x 2^(i/8).</summary>
    internal static int BinOf(double ms) =>
        ms <= SmallestMs ? 0 : (int)Math.Clamp(Math.Ceiling(BinsPerDoubling * Math.Log2(ms / SmallestMs)), 1, Bins - 1);

    internal static double UpperBoundMs(int bin) => SmallestMs * Math.Pow(2, (double)bin / BinsPerDoubling);

    private static long SecondOf(DateTimeOffset at) => at.ToUnixTimeSeconds();

    private sealed class Bucket
    {
        public readonly Lock Gate = new();
        public readonly int[] Counts = new int[Bins];
        public long Second = long.MinValue;
        public int Count;
        public double MaxMs;
    }
}
