namespace Serverless.Ranking;

/// <summary>
/// What serving did over the last <see cref="ServingMonitor.WindowSeconds"/> seconds: answers
/// (by the model or the Substitute), the Substitute's answers by reason, and feature-log requests
/// dropped. <see cref="SubstituteShare"/> is 0 when there were no requests.
/// </summary>
public sealed record ServingWindow(
    int WindowSeconds,
    long Requests,
    long Substitute,
    double SubstituteShare,
    IReadOnlyDictionary<string, long> SubstituteReasons,
    long FeatureLogDrops);

/// <summary>
/// A one-minute sliding window of serving outcomes, kept in per-second buckets on the injected
/// clock (a bucket is reused once its second has left the window). <see cref="RankService"/>
/// records each answer and <see cref="Lumberjack.FeatureLogBuffer"/> each drop; health reads
/// <see cref="Window"/>. Recording a model answer is two interlocked increments (the bucket's
/// second is checked, and the bucket reset once per second under its lock), so it stays off the
/// ranking tail. Answers are also counted on <see cref="Hosting.PlatformMetrics"/>, which add up
/// across instances where this window is one instance's.
/// </summary>
public sealed class ServingMonitor(TimeProvider time, Hosting.PlatformMetrics metrics)
{
    public const int WindowSeconds = 60;

    /// <summary>Distinct Substitute reasons kept per second; more are counted as <see cref="OtherReason"/>.</summary>
    private const int MaxReasons = 16;
    public const string OtherReason = "other";

    private readonly Bucket[] buckets = Enumerable.Range(0, WindowSeconds).Select(_ => new Bucket()).ToArray();

    /// <summary>The model answered a request.</summary>
    public void RecordModelAnswer()
    {
        Interlocked.Increment(ref Current().Requests);
        metrics.ModelAnswered();
    }

    /// <summary>The Substitute answered a request (or was called for and could not answer), for this reason.</summary>
    public void RecordSubstitute(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        metrics.SubstituteAnswered(reason);
        var bucket = Current();
        lock (bucket)
        {
            Interlocked.Increment(ref bucket.Requests);
            bucket.Substitutes++;
            var key = bucket.Reasons.ContainsKey(reason) || bucket.Reasons.Count < MaxReasons ? reason : OtherReason;
            bucket.Reasons[key] = bucket.Reasons.GetValueOrDefault(key) + 1;
        }
    }

    /// <summary>Feature-log requests were dropped (a full buffer, a publish that failed for good, the host stopping).</summary>
    public void RecordFeatureLogDrops(long count)
    {
        if (count > 0)
        {
            Interlocked.Add(ref Current().Drops, count);
        }
    }

    /// <summary>Sums of the buckets whose second lies within the last <see cref="WindowSeconds"/> seconds (this one included).</summary>
    public ServingWindow Window()
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        long requests = 0, substitutes = 0, drops = 0;
        var reasons = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var bucket in buckets)
        {
            lock (bucket)
            {
                if (bucket.Second > now - WindowSeconds && bucket.Second <= now)
                {
                    requests += Interlocked.Read(ref bucket.Requests);
                    substitutes += bucket.Substitutes;
                    drops += Interlocked.Read(ref bucket.Drops);
                    foreach (var (reason, count) in bucket.Reasons)
                    {
                        reasons[reason] = reasons.GetValueOrDefault(reason) + count;
                    }
                }
            }
        }

        return new ServingWindow(WindowSeconds, requests, substitutes, requests == 0 ? 0 : (double)substitutes / requests, reasons, drops);
    }

    /// <summary>The bucket of the current second, emptied first if it still holds an older second.</summary>
    private Bucket Current()
    {
        var second = time.GetUtcNow().ToUnixTimeSeconds();
        var bucket = buckets[(int)(((second % WindowSeconds) + WindowSeconds) % WindowSeconds)];
        if (Volatile.Read(ref bucket.Second) != second)
        {
            lock (bucket)
            {
                if (bucket.Second != second)
                {
                    bucket.Requests = 0;
                    bucket.Substitutes = 0;
                    bucket.Drops = 0;
                    bucket.Reasons.Clear();
                    Volatile.Write(ref bucket.Second, second);
                }
            }
        }

        return bucket;
    }

    private sealed class Bucket
    {
        public long Second = long.MinValue;
        public long Requests;
        public long Substitutes;
        public long Drops;
        public Dictionary<string, long> Reasons { get; } = new(StringComparer.Ordinal);
    }
}
