using Serverless.TimeMachine;

namespace Serverless.Tests.TimeMachine;

public sealed class SkewReportTests
{
    private static SkewReport Report(long mismatches, Dictionary<string, int> skipped) =>
        new(DateTimeOffset.UnixEpoch, 12, 9, 90, mismatches, [new FeatureSkew("title_mean_rating", 90, mismatches, mismatches == 0 ? 0 : 0.5)], skipped);

    [Fact]
    public void The_summary_says_how_many_requests_were_not_compared_and_why()
    {
        var summary = Report(0, new() { [SkewMeter.SkippedSubstitute] = 2, [SkewMeter.SkippedNoData] = 1 }).Summary();
        Assert.Equal("skew meter: 9 logged requests recomputed offline, 90 feature values, 0 mismatches; not compared: 2 served by the Substitute, 1 the serving model or its snapshot is gone", summary);

        var skewed = Report(3, new() { [SkewMeter.SkippedOtherConfig] = 1 }).Summary();
        Assert.StartsWith("skew meter: 3 of 90 feature values differ in 9 requests: title_mean_rating ", skewed, StringComparison.Ordinal);
        Assert.EndsWith("; not compared: 1 logged with another feature config", skewed, StringComparison.Ordinal);
    }

    [Fact]
    public void A_summary_with_every_request_compared_names_no_skips()
    {
        Assert.DoesNotContain("not compared", Report(0, []).Summary(), StringComparison.Ordinal);
    }
}
