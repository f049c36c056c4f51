using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Serverless.Archive;

/// <summary>Batch capacity is used up: try again after <see cref="RetryAfter"/> (maps to 429).</summary>
public sealed class ArchiveThrottledException(TimeSpan retryAfter)
    : Serverless.Requests.RequestRefusedException(429, $"the archive's batch interface is at capacity; retry after {retryAfter.TotalSeconds:F1} s", retryAfter)
{
    public new TimeSpan RetryAfter => base.RetryAfter!.Value;
}

/// <summary>
/// Isolation of the batch interface: a concurrency cap (how many batch pages are read at once) and a
/// token bucket (pages per second), each with a bounded queue. Live reads never pass through here,
/// so batch load waits on batch permits, not on live capacity.
/// </summary>
public sealed class BatchThrottle : IDisposable
{
    private readonly ConcurrencyLimiter concurrency;
    private readonly TokenBucketRateLimiter rate;
    private readonly TimeSpan replenish;

    public BatchThrottle(IOptions<ArchiveOptions> options)
    {
        var o = options.Value;
        concurrency = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = o.BatchMaxConcurrency,
            QueueLimit = o.BatchQueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        var perPeriod = Math.Max(1, (int)Math.Round(o.BatchPagesPerSecond >= 1 ? o.BatchPagesPerSecond / 10 : 1));
        replenish = TimeSpan.FromSeconds(perPeriod / o.BatchPagesPerSecond);
        rate = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = perPeriod,
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = replenish,
            QueueLimit = o.BatchQueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        });
    }

    public async Task<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        var slot = await concurrency.AcquireAsync(1, cancellationToken);
        if (!slot.IsAcquired)
        {
            slot.Dispose();
            throw new ArchiveThrottledException(RetryAfter(slot));
        }

        using var token = await rate.AcquireAsync(1, cancellationToken);
        if (!token.IsAcquired)
        {
            var retry = RetryAfter(token);
            slot.Dispose();
            throw new ArchiveThrottledException(retry);
        }

        return slot;
    }

    private TimeSpan RetryAfter(RateLimitLease lease) =>
        lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : replenish;

    public void Dispose()
    {
        concurrency.Dispose();
        rate.Dispose();
    }
}
