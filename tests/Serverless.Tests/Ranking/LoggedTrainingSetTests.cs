using Serverless.Lumberjack;
using Serverless.Training;

namespace Serverless.Tests.Ranking;

public sealed class LoggedTrainingSetTests
{
    private static readonly DateTimeOffset T0 = new(2017, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static LoggedImpression Impression(int minute, bool? label, string hash = "h1", int features = 3) =>
        new(new FeatureLogRecord($"log{minute}", T0.AddMinutes(minute), "1", $"{minute}", 0, "v1", hash, Enumerable.Repeat((float)minute, features).ToArray(), 0.5f, T0, false), label, null);

    [Fact]
    public void Logged_impressions_train_as_served_split_by_time_and_only_with_the_same_config()
    {
        var impressions = Enumerable.Range(0, 20).Select(m => Impression(m, m % 3 == 0))
            .Append(Impression(100, true, hash: "other"))
            .Append(Impression(101, true, features: 5))
            .Append(Impression(102, null))
            .Reverse()
            .ToList();

        var set = TrainingSetBuilder.FromLogs(impressions, "h1", featureCount: 3, validationShare: 0.25);

        Assert.Equal(15, set.Train.Count);
        Assert.Equal(5, set.Validation.Count);
        Assert.Equal(Enumerable.Range(0, 15).Select(m => (float)m), set.Train.Select(e => e.Features[0]));
        Assert.Equal(Enumerable.Range(15, 5).Select(m => (float)m), set.Validation.Select(e => e.Features[0]));
        Assert.Equal(Enumerable.Range(0, 15).Select(m => m % 3 == 0), set.Train.Select(e => e.Label));
        Assert.Equal(T0, set.From);
        Assert.Equal(T0.AddMinutes(19), set.To);

        // Each row says where it comes from (member, title, request time), train rows then validation rows:
        // the drift reference counts its members from them.
        Assert.Equal(Enumerable.Range(0, 20).Select(m => new RowContext("1", $"{m}", T0.AddMinutes(m))), set.Contexts!);
    }

    [Fact]
    public void The_split_falls_between_request_times_never_inside_a_request_or_an_instant()
    {
        // Requests of 3 impressions: 4 at distinct minutes, then 4 logged at the same minute. A fifth
        // held out by row count would split at row 19 (inside the second request of minute 10).
        static IEnumerable<LoggedImpression> Request(int request, int minute) => Enumerable.Range(0, 3).Select(p =>
            new LoggedImpression(new FeatureLogRecord($"log{request}", T0.AddMinutes(minute), "1", $"{request}-{p}", p, "v1", "h1", [request, p, 0], 0.5f, T0, false), p == 0, null));
        var impressions = Enumerable.Range(0, 4).SelectMany(r => Request(r, r)).Concat(Enumerable.Range(4, 4).SelectMany(r => Request(r, 10))).ToList();

        // No later instant: the split moves back to the burst's start, which is held out whole.
        var set = TrainingSetBuilder.FromLogs(impressions, "h1", featureCount: 3);
        Assert.Equal(T0.AddMinutes(10), set.HeldOutFrom);
        Assert.Equal(12, set.Train.Count);
        Assert.All(set.Validation, e => Assert.True(e.Features[0] >= 4));

        // With a later instant, the burst trains whole and the later request is held out.
        set = TrainingSetBuilder.FromLogs(impressions.Concat(Request(8, 11)), "h1", featureCount: 3);
        Assert.Equal(T0.AddMinutes(11), set.HeldOutFrom);
        Assert.Equal(24, set.Train.Count);
        Assert.All(set.Validation, e => Assert.Equal(8, e.Features[0]));

        // Every impression at one instant: there is no time to split at, and it says so.
        var ex = Assert.Throws<InvalidOperationException>(() => TrainingSetBuilder.FromLogs(Enumerable.Range(4, 4).SelectMany(r => Request(r, 10)), "h1", featureCount: 3));
        Assert.Contains("share one request time", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_few_labelled_impressions_is_a_clear_error()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => TrainingSetBuilder.FromLogs([Impression(1, true)], "h1", 3));
        Assert.Contains("not enough to train", ex.Message, StringComparison.Ordinal);
    }
}
