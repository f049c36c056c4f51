using System.Diagnostics;
using System.Globalization;
using Serverless.Models;

namespace Serverless.Sentinel;

/// <summary>
/// The checks on shadow data and on the candidate alone: accuracy against the live model (paired
/// bootstrap), the absolute floor used when there is nothing to compare with, calibration, and the
/// serving budget.
/// </summary>
public static class ShadowChecks
{
    public const int BootstrapSeed = 20161;

    private static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);

    /// <summary>
    /// Fails only when the candidate is worse than live with 95% confidence beyond the tolerance, on
    /// any of AUC, log loss or NDCG@10 (the interval of candidate - live lies wholly past it).
    /// </summary>
    public static SentinelCheck Accuracy(ShadowData data, float[] candidate, float[]? live, string? liveVersion, string? skipReason, SentinelOptions options)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        var threshold = string.Create(CultureInfo.InvariantCulture,
            $"not worse than live with 95% confidence beyond AUC -{options.AucTolerance}, log loss +{options.LogLossTolerance}, NDCG@10 -{options.NdcgTolerance} (paired bootstrap, {options.BootstrapResamples} resamples over {data.UnitName})");
        if (skipReason is not null || live is null)
        {
            return SentinelCheck.Skip(SentinelChecks.ShadowAccuracy, threshold, skipReason ?? "no live model to compare with");
        }

        if (data.Count < options.MinShadowRows)
        {
            return SentinelCheck.Skip(SentinelChecks.ShadowAccuracy, threshold, $"{data.Count} labelled shadow impressions, fewer than {options.MinShadowRows}");
        }

        if (TooFewMembers(data, options) is { } fewMembers)
        {
            return SentinelCheck.Skip(SentinelChecks.ShadowAccuracy, threshold, fewMembers);
        }

        var c = new ShadowMetrics(data, candidate);
        var l = new ShadowMetrics(data, live);
        if (c.RankedRequests < options.MinShadowRequests)
        {
            return SentinelCheck.Skip(SentinelChecks.ShadowAccuracy, threshold, $"{c.RankedRequests} logged requests with a liked title, fewer than {options.MinShadowRequests}");
        }

        var intervals = PairedBootstrap.Run(c, l, data, options.BootstrapResamples, BootstrapSeed);
        var failures = new List<string>();
        foreach (var i in intervals)
        {
            var worse = i.Metric == "logLoss" ? i.Lower > options.LogLossTolerance
                : i.Upper < -(i.Metric == "auc" ? options.AucTolerance : options.NdcgTolerance);
            if (worse)
            {
                failures.Add(i.Metric);
            }
        }

        var measured = string.Join("; ", intervals.Select(i => $"{i.Metric} {F(i.Candidate)} vs live {F(i.Live)}, diff {F(i.Difference)} [{F(i.Lower)}, {F(i.Upper)}]"))
            + $" ({data.RequestCount} requests{Members(data)})";
        return new SentinelCheck(SentinelChecks.ShadowAccuracy, measured, threshold, failures.Count == 0)
        {
            Value = intervals[0].Difference,
            Explanation = failures.Count == 0
                ? $"on {data.Count} impressions of {data.RequestCount} requests the candidate is not worse than live {liveVersion}"
                : $"worse than live {liveVersion} with 95% confidence on " + string.Join(", ", failures),
            Plot = new Dictionary<string, double[]>
            {
                ["candidate"] = intervals.Select(i => i.Candidate).ToArray(),
                ["live"] = intervals.Select(i => i.Live).ToArray(),
                ["lower"] = intervals.Select(i => i.Lower).ToArray(),
                ["upper"] = intervals.Select(i => i.Upper).ToArray(),
            },
        };
    }

    /// <summary>The absolute floor: AUC on the time-split holdout above the popularity baseline measured in the same training run.</summary>
    public static SentinelCheck HoldoutFloor(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        const string threshold = "holdout AUC > AUC of ranking by title popularity on the same holdout";
        if (!manifest.Metrics.TryGetValue(ModelMetricNames.Auc, out var auc) || !manifest.Metrics.TryGetValue(ModelMetricNames.PopularityBaselineAuc, out var baseline))
        {
            return SentinelCheck.Skip(SentinelChecks.HoldoutFloor, threshold, "the manifest has no holdout AUC or popularity baseline");
        }

        return new SentinelCheck(SentinelChecks.HoldoutFloor, $"AUC {F(auc)} vs popularity {F(baseline)}", threshold, auc > baseline)
        {
            Value = auc - baseline,
            Explanation = auc > baseline ? "the candidate ranks its holdout better than popularity alone" : "the candidate does no better than ranking by popularity",
        };
    }

    /// <summary>ECE (10 bins), sum(predicted) / sum(labels) and the reliability curve on the shadow data.</summary>
    public static SentinelCheck Calibration(ShadowData data, float[] candidate, SentinelOptions options)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(options);
        var threshold = string.Create(CultureInfo.InvariantCulture,
            $"ECE <= {options.MaxCalibrationError} and sum(predicted)/sum(labels) in [{1 - options.MaxSumRatioDeviation}, {1 + options.MaxSumRatioDeviation}], unless the 95% interval (bootstrap over {data.UnitName}, {options.BootstrapResamples} resamples) still reaches the limit");
        if (data.Count < options.MinShadowRows)
        {
            return SentinelCheck.Skip(SentinelChecks.Calibration, threshold, $"{data.Count} labelled shadow impressions, fewer than {options.MinShadowRows}");
        }

        if (TooFewMembers(data, options) is { } fewMembers)
        {
            return SentinelCheck.Skip(SentinelChecks.Calibration, threshold, fewMembers);
        }

        const int bins = Serverless.Models.Calibration.DefaultBins;
        var ece = Serverless.Models.Calibration.ExpectedCalibrationError(candidate, data.Labels, bins);
        var positives = data.Labels.Count(l => l);
        var ratio = positives == 0 ? double.PositiveInfinity : candidate.Sum(s => (double)s) / positives;
        var meanPredicted = new double[bins];
        var observed = new double[bins];
        var count = new double[bins];
        for (var i = 0; i < candidate.Length; i++)
        {
            var b = Math.Clamp((int)(candidate[i] * bins), 0, bins - 1);
            count[b]++;
            meanPredicted[b] += candidate[i];
            observed[b] += data.Labels[i] ? 1 : 0;
        }

        for (var b = 0; b < bins; b++)
        {
            meanPredicted[b] = count[b] == 0 ? double.NaN : meanPredicted[b] / count[b];
            observed[b] = count[b] == 0 ? double.NaN : observed[b] / count[b];
        }

        // The labels are a sample: a few dozen members' likes. A candidate fails only when
        // it is off with 95% confidence: the whole interval of ECE above its limit, or the whole
        // interval of the sum ratio outside its band (the shadow-accuracy check's rule, for calibration).
        var (eceLow, eceHigh, ratioLow, ratioHigh) = CalibrationIntervals(data, candidate, bins, options.BootstrapResamples);
        var eceOff = double.IsNaN(ece) || eceLow > options.MaxCalibrationError;
        var ratioOff = !double.IsFinite(ratio) || ratioLow > 1 + options.MaxSumRatioDeviation || ratioHigh < 1 - options.MaxSumRatioDeviation;
        var passed = !eceOff && !ratioOff;
        var outside = ece > options.MaxCalibrationError || Math.Abs(ratio - 1) > options.MaxSumRatioDeviation;
        return new SentinelCheck(SentinelChecks.Calibration,
            $"ECE {F(ece)} [{F(eceLow)}, {F(eceHigh)}], sum ratio {F(ratio)} [{F(ratioLow)}, {F(ratioHigh)}] ({positives} liked of {data.Count}, {data.RequestCount} requests{Members(data)})", threshold, passed)
        {
            Value = ece,
            Explanation = !passed
                ? ratioOff && ratioLow > 1 ? "the candidate over-predicts likes" : "the candidate's probabilities do not match observed like rates"
                : outside ? "outside the limit, but not with 95% confidence on this much shadow data: too few independent members (or requests) to call it miscalibrated"
                : "predicted probabilities match observed like rates",
            Plot = new Dictionary<string, double[]>
            {
                ["meanPredicted"] = meanPredicted, ["observedRate"] = observed, ["count"] = count,
                ["eceInterval"] = [eceLow, eceHigh], ["sumRatioInterval"] = [ratioLow, ratioHigh],
            },
        };
    }

    /// <summary>Why the member-level bootstrap cannot be trusted on this data (too few distinct members), or null.</summary>
    private static string? TooFewMembers(ShadowData data, SentinelOptions options) =>
        data.Members is { } members && members.Distinct < options.MinShadowMembers
            ? $"{members.Distinct} members behind the shadow data, fewer than {options.MinShadowMembers}: the bootstrap resamples members, and so few give no honest interval"
            : null;

    private static string Members(ShadowData data) => data.Members is { } m ? $", {m.Distinct} members" : "";

    /// <summary>95% bootstrap intervals over the data's units (members when known, else requests; seeded) of the expected calibration error and the sum ratio.</summary>
    private static (double EceLow, double EceHigh, double RatioLow, double RatioHigh) CalibrationIntervals(ShadowData data, float[] candidate, int bins, int resamples)
    {
        // Per unit (member, else request) and bin: rows, sum of predictions, likes; a resample weights each unit by its count.
        var unitCount = data.UnitCount;
        var rows = new double[unitCount, bins];
        var predicted = new double[unitCount, bins];
        var liked = new double[unitCount, bins];
        for (var i = 0; i < candidate.Length; i++)
        {
            var b = Math.Clamp((int)(candidate[i] * bins), 0, bins - 1);
            var u = data.UnitOfRequest[data.Request[i]];
            rows[u, b]++;
            predicted[u, b] += candidate[i];
            liked[u, b] += data.Labels[i] ? 1 : 0;
        }

        var random = new Random(BootstrapSeed);
        var weights = new double[unitCount];
        var eces = new List<double>(resamples);
        var ratios = new List<double>(resamples);
        for (var s = 0; s < resamples; s++)
        {
            PairedBootstrap.Resample(random, weights);
            double total = 0, gap = 0, sumPredicted = 0, sumLiked = 0;
            for (var b = 0; b < bins; b++)
            {
                double n = 0, p = 0, y = 0;
                for (var u = 0; u < unitCount; u++)
                {
                    n += weights[u] * rows[u, b];
                    p += weights[u] * predicted[u, b];
                    y += weights[u] * liked[u, b];
                }

                total += n;
                gap += Math.Abs(p - y);   // n * |mean predicted - observed rate|
                sumPredicted += p;
                sumLiked += y;
            }

            eces.Add(total > 0 ? gap / total : double.NaN);
            ratios.Add(sumLiked > 0 ? sumPredicted / sumLiked : double.NaN);
        }

        var (eceLow, eceHigh) = PairedBootstrap.Interval95(eces);
        var (ratioLow, ratioHigh) = PairedBootstrap.Interval95(ratios);
        return (eceLow, eceHigh, ratioLow, ratioHigh);
    }

    /// <summary>Candidates in the batch the serving budget times.</summary>
    public const int BudgetBatchSize = 100;

    /// <summary>Batches (of different rows) whose p99 the serving budget judges.</summary>
    public const int BudgetBatches = 60;

    /// <summary>Most timings of each batch (passes over all of them); each batch counts its fastest.</summary>
    public const int BudgetPasses = 8;

    /// <summary>Least scoring before timing (engine built, code compiled to its optimised tier, caches warm).</summary>
    public static readonly TimeSpan BudgetWarmUp = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// p99 time to score a batch of <see cref="BudgetBatchSize"/> candidates, judged so that a shared,
    /// loaded machine does not decide it. After a warm-up, <see cref="BudgetBatches"/> batches of
    /// different rows (stepping through <paramref name="rows"/>) are timed in passes, and each batch
    /// counts its fastest timing: noise (another process on the core, a collection, code not yet
    /// optimised) only ever adds time, and a repeat of the same batch a pass later rarely meets the
    /// same interruption, so the fastest is the model's own cost on those rows. The p99 is taken over
    /// the batches. (A p99 of single timings is nearly their maximum: one interruption, and it
    /// rejected models that fit.) Passes stop when the p99 is within budget, when after two passes
    /// even the median batch is over it (a slow model, not an interruption), or after
    /// <see cref="BudgetPasses"/>. When <paramref name="live"/> is given, the live model is timed the
    /// same way, pass by pass beside the candidate (both see the same load), and reported next to it.
    /// </summary>
    public static SentinelCheck ServingBudget(ModelScorer scorer, IReadOnlyList<float[]> rows, SentinelOptions options, ModelScorer? live = null, string? liveVersion = null)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(options);
        if (rows.Count == 0)
        {
            return SentinelCheck.Skip(SentinelChecks.ServingBudget, BudgetThreshold(options), "no feature vectors to time");
        }

        // Batch b: rows from b * 37 on (wrapping), so batches differ even when the rows are few.
        var batches = Enumerable.Range(0, BudgetBatches)
            .Select(b => (IReadOnlyList<float[]>)Enumerable.Range(0, BudgetBatchSize).Select(i => rows[((b * 37) + i) % rows.Count]).ToList()).ToList();
        var scores = new float[BudgetBatchSize];
        var liveScores = new float[BudgetBatchSize];
        return ServingBudget(b => scorer.ScoreBatch(batches[b], scores), live is null ? null : b => live.ScoreBatch(batches[b], liveScores), liveVersion, options);
    }

    /// <summary>The serving budget over any scoring action (<c>scoreBatch(b)</c> scores batch b): the timing and verdict of the public overload.</summary>
    internal static SentinelCheck ServingBudget(Action<int> scoreBatch, Action<int>? scoreLiveBatch, string? liveVersion, SentinelOptions options, TimeSpan? warmUp = null)
    {
        ArgumentNullException.ThrowIfNull(scoreBatch);
        ArgumentNullException.ThrowIfNull(options);
        var budget = options.ServingBudget.TotalMilliseconds;
        WarmUp(scoreBatch, warmUp ?? BudgetWarmUp);
        if (scoreLiveBatch is not null)
        {
            WarmUp(scoreLiveBatch, warmUp ?? BudgetWarmUp);
        }

        var candidate = new BudgetTiming(scoreBatch, budget);
        var live = scoreLiveBatch is null ? null : new BudgetTiming(scoreLiveBatch, budget);
        while (!candidate.Done || live is { Done: false })
        {
            candidate.Pass();
            live?.Pass();
        }

        var passed = candidate.Within;
        var measured = string.Create(CultureInfo.InvariantCulture,
            $"p99 {candidate.P99:F2} ms, p50 {candidate.P50:F2} ms over {BudgetBatches} batches, each its fastest of {candidate.Passes} timing(s)")
            + (live is null ? "" : string.Create(CultureInfo.InvariantCulture, $"; live {liveVersion}: p99 {live.P99:F2} ms, p50 {live.P50:F2} ms (fastest of {live.Passes}), timed the same way"));
        var plot = new Dictionary<string, double[]>
        {
            ["batchMs"] = candidate.Sorted,
            ["passP99Ms"] = [.. candidate.PassP99],
        };
        if (live is not null)
        {
            plot["liveBatchMs"] = live.Sorted;
            plot["livePassP99Ms"] = [.. live.PassP99];
        }

        return new SentinelCheck(SentinelChecks.ServingBudget, measured, BudgetThreshold(options), passed)
        {
            Value = candidate.P99,
            Explanation = passed
                ? "fast enough to serve"
                : "too slow to score a request's candidates within the serving budget, even at its fastest"
                  + (live is null ? "" : live.Within ? ", while the live model fits it on the same machine" : "; the live model is over it too here (a loaded machine?)"),
            Plot = plot,
        };
    }

    /// <summary>Scores batches for <paramref name="duration"/> (and at least 5 of them).</summary>
    private static void WarmUp(Action<int> scoreBatch, TimeSpan duration)
    {
        var start = Stopwatch.GetTimestamp();
        for (var b = 0; b < 5 || Stopwatch.GetElapsedTime(start) < duration; b++)
        {
            scoreBatch(b % BudgetBatches);
        }
    }

    private static string BudgetThreshold(SentinelOptions options) => string.Create(CultureInfo.InvariantCulture,
        $"p99 over {BudgetBatches} {BudgetBatchSize}-candidate batches (each its fastest of up to {BudgetPasses} timings) <= {options.ServingBudget.TotalMilliseconds} ms");

    /// <summary>The fastest timing of each batch so far, the p99 over batches after each pass, and whether to stop.</summary>
    private sealed class BudgetTiming(Action<int> scoreBatch, double budgetMs)
    {
        private readonly double[] fastest = Enumerable.Repeat(double.PositiveInfinity, BudgetBatches).ToArray();

        public List<double> PassP99 { get; } = [];

        public int Passes => PassP99.Count;

        public double[] Sorted { get; private set; } = [];

        public double P99 => PassP99.Count == 0 ? double.PositiveInfinity : PassP99[^1];

        public double P50 => Sorted.Length == 0 ? double.NaN : PairedBootstrap.Percentile(Sorted, 0.5);

        public bool Within => P99 <= budgetMs;

        /// <summary>Within budget; or two passes and still half the batches over it; or out of passes.</summary>
        public bool Done => Within || (Passes >= 2 && P50 > budgetMs) || Passes >= BudgetPasses;

        public void Pass()
        {
            if (Done)
            {
                return;
            }

            for (var b = 0; b < BudgetBatches; b++)
            {
                var start = Stopwatch.GetTimestamp();
                scoreBatch(b);
                fastest[b] = Math.Min(fastest[b], Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }

            Sorted = fastest.Order().ToArray();
            PassP99.Add(PairedBootstrap.Percentile(Sorted, 0.99));
        }
    }
}
