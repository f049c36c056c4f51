using Serverless.Requests;

namespace Serverless.TimeMachine;

/// <summary>Body of POST /api/timemachine/skew: requests logged since <c>since</c> (all when absent), at most <c>maxRequests</c>.</summary>
public sealed record SkewRequest(DateTimeOffset? Since, int? MaxRequests)
{
    public static SkewRequest Default { get; } = new(null, null);

    /// <summary>The meter's request (<paramref name="defaultSample"/> requests when not given); a 400 refusal otherwise.</summary>
    public SkewMeterRequest Validate(int defaultSample)
    {
        var max = MaxRequests ?? defaultSample;
        return max is < 1 or > SkewMeterRequest.MaxAllowedRequests
            ? throw RequestRefusedException.BadRequest($"maxRequests must be 1..{SkewMeterRequest.MaxAllowedRequests}")
            : new SkewMeterRequest(Since, max);
    }
}
