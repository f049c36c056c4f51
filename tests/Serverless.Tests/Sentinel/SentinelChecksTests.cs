using Serverless.Models;
using Serverless.Sentinel;
using Serverless.Tests.Models;

namespace Serverless.Tests.Sentinel;

/// <summary>
/// The Sentinel's data checks on synthetic "likes" with a known ground truth: each fault the checks
/// exist for is caught by the right check, and clean candidates (3 seeds x 2 tree trainers, six
/// distinct models, same data as live) raise no alarm on the same shadow data.
/// </summary>
public sealed class SentinelChecksTests
{
    private static readonly SentinelOptions Options = new() { MinShadowRows = 500, MinShadowRequests = 30 };

    /// <summary>Shadow data: 4,000 fresh impressions in logged requests of 10.</summary>
    private static readonly Lazy<(ShadowData Data, List<TrainingExample> Rows)> Shadow = new(() =>
    {
        var rows = SyntheticData.Examples(4000, 99);
        return (new ShadowData(rows.Select(r => r.Features).ToList(), rows.Select(r => r.Label).ToList(), rows.Select((_, i) => "req-" + (i / 10)).ToList()), rows);
    });

    private static float[] Score(TrainedModel model, IReadOnlyList<float[]> rows)
    {
        using var scorer = new ModelScorer(model);
        var scores = new float[rows.Count];
        scorer.ScoreBatch(rows, scores);
        return scores;
    }

    private static float[] LiveScores => Score(SharedModels.Get(TrainerKind.LightGbm), Shadow.Value.Data.Features);

    [Fact]
    public void Clean_candidates_of_three_seeds_and_two_trainers_raise_no_alarm()
    {
        var data = Shadow.Value.Data;
        var reference = FeatureDrift.Profile(SyntheticData.FeatureNames, SyntheticData.Examples(5000, 1).Select(e => e.Features).ToList());
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        foreach (var trainer in new[] { TrainerKind.LightGbm, TrainerKind.FastTree })
        {
            foreach (var seed in new[] { 1, 2, 3 })
            {
                using var candidate = ModelTrainer.Train(SyntheticData.Request(trainer, $"clean-{trainer}-{seed}", seed: seed));
                var scores = Score(candidate, data.Features);
                distinct.Add(string.Join(",", scores.Select(BitConverter.SingleToInt32Bits)));
                var checks = new[]
                {
                    ShadowChecks.Accuracy(data, scores, LiveScores, "live", null, Options),
                    ShadowChecks.Calibration(data, scores, Options),
                    FeatureDrift.Check(reference, data.Features, Options),
                };
                Assert.All(checks, c => Assert.True(c.Passed && !c.Skipped, $"{trainer} seed {seed}: {c.Name} {c.Measured}"));
            }
        }

        // Six models: each seed of a tree trainer holds out other rows for its calibrator, so grows other trees.
        Assert.Equal(6, distinct.Count);
    }

    [Fact]
    public void A_candidate_trained_on_shuffled_labels_fails_shadow_accuracy_with_its_interval()
    {
        var request = SyntheticData.Request(TrainerKind.LightGbm, "shuffled");
        var random = new Random(5);
        var labels = request.Train.Select(e => e.Label).OrderBy(_ => random.Next()).ToList();
        using var candidate = ModelTrainer.Train(request with { Train = request.Train.Select((e, i) => e with { Label = labels[i] }).ToList() });

        var check = ShadowChecks.Accuracy(Shadow.Value.Data, Score(candidate, Shadow.Value.Data.Features), LiveScores, "live", null, Options);

        Assert.False(check.Passed);
        Assert.Equal(SentinelChecks.ShadowAccuracy, check.Name);
        Assert.Contains("auc", check.Explanation, StringComparison.Ordinal);
        Assert.True(check.Plot!["upper"][0] < -Options.AucTolerance);   // the whole AUC interval lies below live
    }

    [Fact]
    public void The_bootstrap_is_deterministic()
    {
        var data = Shadow.Value.Data;
        var scores = Score(SharedModels.Get(TrainerKind.LogisticRegression), data.Features);
        var a = ShadowChecks.Accuracy(data, scores, LiveScores, "live", null, Options);
        var b = ShadowChecks.Accuracy(data, scores, LiveScores, "live", null, Options);
        Assert.Equal(a.Measured, b.Measured);
    }

    [Fact]
    public void Live_vectors_with_one_feature_shifted_fail_the_drift_check_naming_it()
    {
        var reference = FeatureDrift.Profile(SyntheticData.FeatureNames, SyntheticData.Examples(5000, 1).Select(e => e.Features).ToList());
        var shifted = Shadow.Value.Data.Features.Select(f => { var c = (float[])f.Clone(); c[3] += 1.0f; return c; }).ToList();

        var check = FeatureDrift.Check(reference, shifted, Options);

        Assert.False(check.Passed);
        Assert.Contains("1 drifting: genre_affinity", check.Measured, StringComparison.Ordinal);
        Assert.True(check.Plot!["psi"][3] > 0.2);
        Assert.True(check.Plot["ks"][3] > 0.3);
    }

    [Fact]
    public void A_feature_that_moves_with_time_is_compared_with_the_training_sets_most_recent_window_and_a_sudden_shift_is_still_caught()
    {
        // Column 0 is ln(1 + days since a title was first seen): it moves with time for every title. The
        // training set spans three years; live traffic is the five weeks right after it.
        var random = new Random(3);
        float[] Row(double years) => [(float)Math.Log(1 + (random.NextDouble() * 3650) + (365 * years)), (float)random.NextDouble()];
        var training = Enumerable.Range(0, 8000).Select(i => Row(3.0 * i / 8000)).ToList();
        var live = Enumerable.Range(0, 1000).Select(i => Row(3 + (0.1 * i / 1000))).ToList();
        string[] names = ["age", "noise"];

        var whole = FeatureDrift.Check(FeatureDrift.Profile(names, training), live, Options);
        var recent = FeatureDrift.Check(FeatureDrift.Profile(names, FeatureDrift.ReferenceWindow(training)), live, Options);
        var shifted = FeatureDrift.Check(FeatureDrift.Profile(names, FeatureDrift.ReferenceWindow(training)),
            live.Select(r => new[] { r[0], r[1] + 0.5f }).ToList(), Options);

        Assert.Equal(2000, FeatureDrift.ReferenceWindow(training).Count);
        Assert.Same(training[^1], FeatureDrift.ReferenceWindow(training)[^1]);
        Assert.False(whole.Passed);     // against the multi-year set the age column "drifts": nothing is wrong
        Assert.True(whole.Plot!["psi"][0] > 0.5);
        Assert.True(recent.Passed, recent.Measured);
        Assert.True(recent.Plot!["psi"][0] < 0.2);
        Assert.False(shifted.Passed);   // a real shift is caught against the recent window as well
        Assert.Contains("1 drifting: noise", shifted.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void The_psi_limit_counts_logged_requests_not_vectors_so_a_few_members_are_not_drift_but_a_shift_is()
    {
        // 20 requests of 50 vectors from the training distribution: each request one member, so the member
        // feature (column 0) takes 20 values. Counted as 1,000 vectors its PSI passes 0.2 by chance alone.
        var random = new Random(11);
        var reference = FeatureDrift.Profile(["member_like_rate", "title"], Enumerable.Range(0, 5000).Select(_ => new[] { (float)random.NextDouble(), (float)random.NextDouble() }).ToList());
        var live = Enumerable.Range(0, 20).SelectMany(_ =>
        {
            var member = (float)random.NextDouble();
            return Enumerable.Range(0, 50).Select(_ => new[] { member, (float)random.NextDouble() });
        }).ToList();

        var asRows = FeatureDrift.Check(reference, live, Options);
        var asRequests = FeatureDrift.Check(reference, live, Options, units: 20);
        var shifted = FeatureDrift.Check(reference, live.Select(r => new[] { r[0] + 1.5f, r[1] }).ToList(), Options, units: 20);

        Assert.False(asRows.Passed);
        Assert.True(asRequests.Passed, asRequests.Measured);
        Assert.Equal(21.666 / 20, asRequests.Plot!["limit"][0], 3);
        Assert.Equal(Options.MaxPsi, FeatureDrift.PsiLimit(reference[0], 5000, Options.MaxPsi));
        Assert.False(shifted.Passed);
        Assert.Contains("1 drifting: member_like_rate", shifted.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void Member_features_count_members_as_units_and_are_not_judged_from_too_few_members_while_title_features_still_are()
    {
        // 150 requests from 10 members (15 each), as when the latest impressions come from the few members
        // active lately: each member carries one member_like_rate, far from the training spread.
        var random = new Random(12);
        var reference = FeatureDrift.Profile(["member_like_rate", "title_popularity"], Enumerable.Range(0, 5000).Select(_ => new[] { (float)random.NextDouble(), (float)random.NextDouble() }).ToList());
        List<float[]> Live(int members, int requestsEach, float memberShift, float titleShift) => Enumerable.Range(0, members).SelectMany(_ =>
        {
            var member = (float)(random.NextDouble() * 0.3) + memberShift;   // the few members are alike
            return Enumerable.Range(0, requestsEach * 10).Select(_ => new[] { member, (float)random.NextDouble() + titleShift });
        }).ToList();

        var few = FeatureDrift.Check(reference, Live(10, 15, 0f, 0f), Options, units: 150, members: new MemberUnits(10, 10));
        var fewAsRequests = FeatureDrift.Check(reference, Live(10, 15, 0f, 0f), Options, units: 150);
        var fewTitleShift = FeatureDrift.Check(reference, Live(10, 15, 0f, 1.5f), Options, units: 150, members: new MemberUnits(10, 10));
        var many = FeatureDrift.Check(reference, Live(200, 1, 0.7f, 0f), Options, units: 200, members: new MemberUnits(200, 200));

        Assert.False(fewAsRequests.Passed);   // counted by requests, ten alike members look like drift
        Assert.True(few.Passed, few.Measured);
        Assert.Contains("member features not judged (10 members in the shadow data, 10.0 effective, fewer than 30): member_like_rate", few.Measured, StringComparison.Ordinal);
        Assert.False(fewTitleShift.Passed);   // title features are still judged, by requests
        Assert.Contains("1 drifting: title_popularity", fewTitleShift.Measured, StringComparison.Ordinal);
        Assert.False(many.Passed);            // enough members: a member shift is caught
        Assert.Contains("1 drifting: member_like_rate", many.Measured, StringComparison.Ordinal);
        Assert.Equal(Math.Max(Options.MaxPsi, 21.666 / 200), many.Plot!["limit"][0], 3);
    }

    [Fact]
    public void Effective_members_weigh_each_member_by_its_rows_so_one_heavy_member_among_many_counts_as_few()
    {
        Assert.Equal(new MemberUnits(4, 4), MemberUnits.Of(["a", "b", "c", "d"]));
        Assert.Equal(new MemberUnits(0, 0), MemberUnits.Of([]));

        // 40 members: one holds 300 rows, 39 hold 10 each. (690^2) / (300^2 + 39 * 10^2) = 5.07.
        var rows = Enumerable.Repeat("heavy", 300).Concat(Enumerable.Range(0, 39).SelectMany(m => Enumerable.Repeat("m" + m, 10))).ToList();
        var units = MemberUnits.Of(rows);
        Assert.Equal(40, units.Distinct);
        Assert.Equal(690.0 * 690 / (300 * 300 + 39 * 100), units.Effective, 9);
    }

    [Fact]
    public void Member_features_are_judged_by_effective_members_against_the_training_windows_own_members()
    {
        var random = new Random(21);
        var reference = FeatureDrift.Profile(["member_like_rate", "title_popularity"], Enumerable.Range(0, 5000).Select(_ => new[] { (float)random.NextDouble(), (float)random.NextDouble() }).ToList());

        // 40 members with one value each of member_like_rate, drawn from the training distribution, but one
        // member holds 300 rows of 690: in rows, the heavy member's single value fills a third of its decile.
        List<string> members = [];
        List<float[]> live = [];
        for (var m = 0; m < 40; m++)
        {
            var value = (float)random.NextDouble();
            for (var r = 0; r < (m == 0 ? 300 : 10); r++)
            {
                members.Add("m" + m);
                live.Add([value, (float)random.NextDouble()]);
            }
        }

        var distinctOnly = FeatureDrift.Check(reference, live, Options, units: 69, members: new MemberUnits(40, 40));
        var effective = FeatureDrift.Check(reference, live, Options, units: 69, members: MemberUnits.Of(members));
        Assert.False(distinctOnly.Passed, distinctOnly.Measured);   // counted as 40 equal members, the heavy one looks like drift
        Assert.True(effective.Passed, effective.Measured);           // 5.1 effective members: not judged, and said so
        Assert.Contains("member features not judged (40 members in the shadow data, 5.1 effective, fewer than 30): member_like_rate", effective.Measured, StringComparison.Ordinal);
        Assert.Equal([0.0, 1.0], effective.Plot!["judged"]);   // the report's plot greys what it did not judge
        Assert.Contains("member features are shown, not judged", effective.Explanation, StringComparison.Ordinal);

        // Enough effective members on both sides: the limit is the two-sample one, chi-square * (1/n + 1/m).
        var even = Enumerable.Range(0, 50).SelectMany(m => Enumerable.Repeat("e" + m, 12)).ToList();
        var memberValue = Enumerable.Range(0, 50).Select(_ => (float)random.NextDouble()).ToArray();
        var evenLive = even.Select(m => new[] { memberValue[int.Parse(m[1..], System.Globalization.CultureInfo.InvariantCulture)], (float)random.NextDouble() }).ToList();
        var twoSample = FeatureDrift.Check(reference, evenLive, Options, units: 50, members: MemberUnits.Of(even), referenceMembers: 200);
        Assert.Equal(21.666 * (1 / 50.0 + 1 / 200.0), twoSample.Plot!["limit"][0], 3);
        Assert.Equal(Math.Max(Options.MaxPsi, 21.666 / 50.0), twoSample.Plot!["limit"][1], 3);   // title features: requests, as before
        Assert.Equal([1.0, 1.0], twoSample.Plot!["judged"]);
        Assert.Contains("against 200.0 effective in the training window", twoSample.Threshold, StringComparison.Ordinal);
        var shifted = FeatureDrift.Check(reference, evenLive.Select(v => new[] { v[0] * 0.2f + 0.8f, v[1] }).ToList(), Options, units: 50, members: MemberUnits.Of(even), referenceMembers: 200);
        Assert.False(shifted.Passed);
        Assert.Contains("1 drifting: member_like_rate", shifted.Measured, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("squashed")]
    [InlineData("inflated")]
    public void Miscalibrated_scores_fail_the_calibration_check(string fault)
    {
        var data = Shadow.Value.Data;
        float[] scores;
        if (fault == "squashed")
        {
            scores = Score(SharedModels.Get(TrainerKind.LightGbm), data.Features).Select(p => 0.5f + (p - 0.5f) * 0.2f).ToArray();
        }
        else
        {
            // Positives weighted 4x and never recalibrated: a real way to inflate probabilities.
            var request = SyntheticData.Request(TrainerKind.LogisticRegression, "inflated");
            using var model = ModelTrainer.Train(request with { Train = request.Train.Select(e => e.Label ? e with { Weight = 4 } : e).ToList() });
            scores = Score(model, data.Features);
        }

        var check = ShadowChecks.Calibration(data, scores, Options);

        Assert.False(check.Passed, check.Measured);
        Assert.Equal(10, check.Plot!["observedRate"].Length);
        Assert.Equal(data.Count, check.Plot["count"].Sum());
    }

    [Fact]
    public void A_sum_ratio_just_outside_the_band_fails_only_when_enough_requests_make_it_certain()
    {
        // Likes at 15% a row, a candidate predicting 11.5% everywhere: sum ratio about 0.77, outside [0.8, 1.2].
        static (ShadowData Data, float[] Scores) Shadow(int requests)
        {
            var random = new Random(5);
            var labels = Enumerable.Range(0, requests * 30).Select(_ => random.NextDouble() < 0.15).ToList();
            var data = new ShadowData(labels.Select(_ => new float[] { 0 }).ToList(), labels, labels.Select((_, i) => "r" + (i / 30)).ToList());
            return (data, labels.Select(_ => 0.115f).ToArray());
        }

        var (few, fewScores) = Shadow(20);
        var (many, manyScores) = Shadow(2000);
        var onFew = ShadowChecks.Calibration(few, fewScores, Options);
        var onMany = ShadowChecks.Calibration(many, manyScores, Options);

        Assert.True(fewScores.Sum() / few.Labels.Count(l => l) < 0.8);
        Assert.True(onFew.Passed, onFew.Measured);    // 20 requests: the interval still reaches 0.8
        Assert.Contains("not with 95% confidence", onFew.Explanation, StringComparison.Ordinal);
        Assert.True(onFew.Plot!["sumRatioInterval"][1] >= 0.8);
        Assert.False(onMany.Passed, onMany.Measured); // 2,000 requests: the whole interval is below 0.8
        Assert.True(onMany.Plot!["sumRatioInterval"][1] < 0.8);
        Assert.Contains("2000 requests", onMany.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void Requests_of_one_member_move_together_so_a_few_heavy_members_do_not_make_a_sum_ratio_certain_but_a_shift_over_many_members_does()
    {
        // 400 requests of 30 rows. Few: 40 members, one of whom makes half the requests and likes 30% of
        // what is shown (the rest 10%); the candidate predicts 12.5% everywhere: a sum ratio about 0.63,
        // driven by that one member. Many: 400 members, one request each, the same rates: a sum ratio
        // below 0.8 that no single member explains.
        static (ShadowData ByRequest, ShadowData ByMember, float[] Scores) Shadow(Func<int, int> memberOf, Func<int, double> likeRate)
        {
            var random = new Random(11);
            var requests = Enumerable.Range(0, 400 * 30).Select(i => i / 30).ToList();
            var labels = requests.Select(r => random.NextDouble() < likeRate(r)).ToList();
            var features = labels.Select(_ => new float[] { 0 }).ToList();
            var ids = requests.Select(r => "r" + r).ToList();
            return (new ShadowData(features, labels, ids), new ShadowData(features, labels, ids, requests.Select(r => "m" + memberOf(r)).ToList()),
                labels.Select(_ => 0.125f).ToArray());
        }

        var few = Shadow(r => r < 200 ? 0 : 1 + r % 39, r => r < 200 ? 0.30 : 0.10);
        var many = Shadow(r => r, r => r < 200 ? 0.30 : 0.10);

        var fewByRequest = ShadowChecks.Calibration(few.ByRequest, few.Scores, Options);
        var fewByMember = ShadowChecks.Calibration(few.ByMember, few.Scores, Options);
        var manyByMember = ShadowChecks.Calibration(many.ByMember, many.Scores, Options);

        Assert.True(fewByMember.Plot!["sumRatioInterval"][1] - fewByMember.Plot["sumRatioInterval"][0]
            > 2 * (fewByRequest.Plot!["sumRatioInterval"][1] - fewByRequest.Plot["sumRatioInterval"][0]), fewByMember.Measured + " / " + fewByRequest.Measured);
        Assert.False(fewByRequest.Passed, fewByRequest.Measured);   // counted as 400 independent requests it looks certain
        Assert.True(fewByMember.Passed, fewByMember.Measured);      // 40 members, one holding half: not certain
        Assert.Contains("bootstrap over members", fewByMember.Threshold, StringComparison.Ordinal);
        Assert.False(manyByMember.Passed, manyByMember.Measured);   // 400 members all under-predicted: certain
    }

    [Fact]
    public void Shadow_data_from_fewer_members_than_the_minimum_skips_accuracy_and_calibration_saying_so()
    {
        // Plenty of rows and requests, but 5 members: a member-level bootstrap of 5 gives no honest interval.
        var data = Shadow.Value.Data;
        var members = Enumerable.Range(0, data.Count).Select(i => "m" + data.Request[i] % 5).ToList();
        var fromFive = new ShadowData(data.Features, data.Labels, data.Request.Select(r => "r" + r).ToList(), members);
        var scores = Score(SharedModels.Get(TrainerKind.LightGbm), fromFive.Features);

        var accuracy = ShadowChecks.Accuracy(fromFive, scores, LiveScores, "live", null, Options);
        var calibration = ShadowChecks.Calibration(fromFive, scores, Options);
        var withEnough = ShadowChecks.Calibration(fromFive, scores, Options with { MinShadowMembers = 5 });

        Assert.True(accuracy.Skipped && accuracy.Passed, accuracy.Measured);
        Assert.Contains("5 members behind the shadow data, fewer than 10", accuracy.Explanation, StringComparison.Ordinal);
        Assert.True(calibration.Skipped, calibration.Measured);
        Assert.Contains("fewer than 10", calibration.Explanation, StringComparison.Ordinal);
        Assert.False(withEnough.Skipped);
        Assert.Contains("5 members", withEnough.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_few_shadow_rows_or_no_live_model_skip_with_the_reason_and_the_floor_applies()
    {
        var few = new ShadowData(Shadow.Value.Data.Features.Take(100).ToList(), Shadow.Value.Data.Labels.Take(100).ToList(), Enumerable.Range(0, 100).Select(i => "r" + i).ToList());
        var scores = Score(SharedModels.Get(TrainerKind.LightGbm), few.Features);

        var noLive = ShadowChecks.Accuracy(Shadow.Value.Data, LiveScores, null, null, "no live model to compare with", Options);
        var tooFew = ShadowChecks.Calibration(few, scores, Options);
        Assert.True(noLive.Skipped && noLive.Passed);
        Assert.Contains("no live model", noLive.Explanation, StringComparison.Ordinal);
        Assert.Contains("fewer than 500", tooFew.Explanation, StringComparison.Ordinal);

        var manifest = SharedModels.Get(TrainerKind.LightGbm).Manifest;
        var above = ShadowChecks.HoldoutFloor(manifest with { Metrics = new Dictionary<string, double>(manifest.Metrics) { [ModelMetricNames.PopularityBaselineAuc] = 0.6 } });
        var below = ShadowChecks.HoldoutFloor(manifest with { Metrics = new Dictionary<string, double>(manifest.Metrics) { [ModelMetricNames.PopularityBaselineAuc] = 0.99 } });
        Assert.True(above.Passed && !above.Skipped);
        Assert.False(below.Passed);
    }

    [Fact]
    public void A_model_over_the_serving_budget_fails_it()
    {
        var rows = Shadow.Value.Data.Features;
        using var scorer = new ModelScorer(SharedModels.Get(TrainerKind.LightGbm));

        var roomy = ShadowChecks.ServingBudget(scorer, rows, Options with { ServingBudget = TimeSpan.FromSeconds(5) });
        var tight = ShadowChecks.ServingBudget(scorer, rows, Options with { ServingBudget = TimeSpan.FromTicks(1) });

        Assert.True(roomy.Passed, roomy.Measured);
        Assert.False(tight.Passed, tight.Measured);
        Assert.Equal(SentinelChecks.ServingBudget, tight.Name);
    }

    [Fact]
    public void Interruptions_of_a_few_batches_do_not_fail_a_model_within_the_serving_budget()
    {
        // A model that costs nothing, interrupted for 40 ms on the first timing of three batches (a
        // neighbour on the core): single timings would put its p99 at 40 ms, the fastest of each batch does not.
        var interrupted = new HashSet<int> { 10, 30, 50 };
        var check = ShadowChecks.ServingBudget(b =>
        {
            if (interrupted.Remove(b))
            {
                Thread.Sleep(40);
            }
        }, _ => { }, "live-1", Options with { ServingBudget = TimeSpan.FromMilliseconds(20) }, warmUp: TimeSpan.Zero);

        Assert.True(check.Passed, check.Measured);
        var passes = check.Plot!["passP99Ms"];
        Assert.True(passes[0] > 20, "the first pass alone would have failed");
        Assert.True(passes.Length >= 2);
        Assert.Equal(ShadowChecks.BudgetBatches, check.Plot["liveBatchMs"].Length);
        Assert.Contains("live live-1: p99", check.Measured, StringComparison.Ordinal);
    }

    [Fact]
    public void A_model_slow_on_every_batch_fails_the_serving_budget_after_two_passes_naming_the_live_models_time()
    {
        var check = ShadowChecks.ServingBudget(_ => Thread.Sleep(12), _ => { }, "live-1", Options with { ServingBudget = TimeSpan.FromMilliseconds(5) }, warmUp: TimeSpan.Zero);

        Assert.False(check.Passed, check.Measured);
        Assert.Equal(2, check.Plot!["passP99Ms"].Length);
        Assert.All(check.Plot["batchMs"], ms => Assert.True(ms > 5, $"{ms} ms"));
        Assert.Contains("while the live model fits it", check.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dependency_of_an_unknown_kind_or_none_at_all_fails_the_dependent_data_check()
    {
        var resolvers = new DependencyResolvers([]);
        var manifest = SharedModels.Get(TrainerKind.LightGbm).Manifest;

        var (unknown, _) = await resolvers.CheckAsync(manifest with { Dependencies = ["title-stats:v7"] }, default);
        var (none, _) = await resolvers.CheckAsync(manifest with { Dependencies = [] }, default);

        Assert.False(unknown.Passed);
        Assert.Contains("no resolver for kind 'title-stats'", unknown.Measured, StringComparison.Ordinal);
        Assert.False(none.Passed);
    }

    [Fact]
    public void Metrics_match_hand_computed_values()
    {
        // Two requests: r1 ranks its like first, r2 ranks it last.
        var data = new ShadowData([[0f], [0f], [0f], [0f]], [true, false, false, true], ["r1", "r1", "r2", "r2"]);
        var metrics = new ShadowMetrics(data, [0.9f, 0.1f, 0.8f, 0.2f]);
        Assert.Equal(0.75, metrics.Auc(), 6);                                  // like-vs-other pairs ordered right: 0.9>0.1, 0.9>0.8, 0.2>0.1 (not 0.2>0.8)
        Assert.Equal((1 + 1 / Math.Log2(3)) / 2, metrics.MeanNdcg(), 6);
        Assert.Equal(1 / Math.Log2(3), metrics.MeanNdcg([0, 1]), 6);        // only r2 counts: its like at rank 2
    }

    [Fact]
    public void A_report_with_empty_bins_and_infinite_ratios_serializes_and_reads_back()
    {
        // Empty reliability bins are NaN and a sum ratio without positives is infinite: the report
        // is stored and handed between pipeline steps as JSON, which has no such numbers.
        var check = new SentinelCheck("calibration", "m", "t", false)
        {
            Value = double.PositiveInfinity,
            Plot = new Dictionary<string, double[]> { ["observed"] = [0.5, double.NaN, double.NegativeInfinity] },
        };
        var report = new SentinelReport("v1", [check]);
        foreach (var options in new[] { new System.Text.Json.JsonSerializerOptions(), ModelJson.Options })
        {
            var json = System.Text.Json.JsonSerializer.Serialize(report, options);
            var back = System.Text.Json.JsonSerializer.Deserialize<SentinelReport>(json, options)!;
            Assert.Equal(double.PositiveInfinity, back.Checks[0].Value);
            Assert.Equal([0.5, double.NaN, double.NegativeInfinity], back.Checks[0].Plot!["observed"]);
        }
    }
}
