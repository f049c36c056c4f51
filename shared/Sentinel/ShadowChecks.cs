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
            $"not worse than live with 95% confidence beyond AUC -{options.AucTolerance}, log loss +{options.LogLossTolerance}, NDCG@10 -{options.NdcgTolerance} (paired bootstrap, {options.BootstrapResamples} resamples over requests)");
        if (skipReason is not null || live is null)
        {
            return SentinelCheck.Skip(SentinelChecks.ShadowAccuracy, threshold, skipReason ?? "no live model to compare with");
        }

        if (data.Count < options.MinShadowRows)
        {
            return SentinelCheck.Skip(SentinelChecks.ShadowAccuracy, threshold, $"{data.Count} labelled shadow impressions, fewer than {options.MinShadowRows}");
        }

        var c = new ShadowMetrics(data, candidate);
        var l = new ShadowMetrics(data, live);
        if (c.RankedRequests < options.MinShadowRequests)
        {
            return SentinelCheck.Skip(SentinelChecks.ShadowAccuracy, threshold, $"{c.RankedRequests} logged requests with a liked title, fewer than {options.MinShadowRequests}");
        }

        var intervals = PairedBootstrap.Run(c, l, data.RequestCount, options.BootstrapResamples, BootstrapSeed);
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

        var measured = string.Join("; ", intervals.Select(i => $"{i.Metric} {F(i.Candidate)} vs live {F(i.Live)}, diff {F(i.Difference)} [{F(i.Lower)}, {F(i.Upper)}]"));
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
            $"ECE <= {options.MaxCalibrationError} and sum(predicted)/sum(labels) in [{1 - options.MaxSumRatioDeviation}, {1 + options.MaxSumRatioDeviation}], unless the 95% interval (bootstrap over requests, {options.BootstrapResamples} resamples) still reaches the limit");
        if (data.Count < options.MinShadowRows)
        {
            return SentinelCheck.Skip(SentinelChecks.Calibration, threshold, $"{data.Count} labelled shadow impressions, fewer than {options.MinShadowRows}");
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

        // The labels are a sample: a few hundred requests' worth of likes. A candidate fails only when
        // it is off with 95% confidence: the whole interval of ECE above its limit, or the whole
        // interval of the sum ratio outside its band (the shadow-accuracy check's rule, for calibration).
        var (eceLow, eceHigh, ratioLow, ratioHigh) = CalibrationIntervals(data, candidate, bins, options.BootstrapResamples);
        var eceOff = double.IsNaN(ece) || eceLow > options.MaxCalibrationError;
        var ratioOff = !double.IsFinite(ratio) || ratioLow > 1 + options.MaxSumRatioDeviation || ratioHigh < 1 - options.MaxSumRatioDeviation;
        var passed = !eceOff && !ratioOff;
        var outside = ece > options.MaxCalibrationError || Math.Abs(ratio - 1) > options.MaxSumRatioDeviation;
        return new SentinelCheck(SentinelChecks.Calibration,
            $"ECE {F(ece)} [{F(eceLow)}, {F(eceHigh)}], sum ratio {F(ratio)} [{F(ratioLow)}, {F(ratioHigh)}] ({positives} liked of {data.Count}, {data.RequestCount} requests)", threshold, passed)
        {
            Value = ece,
            Explanation = !passed
                ? ratioOff && ratioLow > 1 ? "the candidate over-predicts likes" : "the candidate's probabilities do not match observed like rates"
                : outside ? "outside the limit, but not with 95% confidence on this much shadow data: too few requests to call it miscalibrated"
                : "predicted probabilities match observed like rates",
            Plot = new Dictionary<string, double[]>
            {
                ["meanPredicted"] = meanPredicted, ["observedRate"] = observed, ["count"] = count,
                ["eceInterval"] = [eceLow, eceHigh], ["sumRatioInterval"] = [ratioLow, ratioHigh],
            },
        };
    }

    /// <summary>95% bootstrap intervals over requests (seeded) of the expected calibration error and the sum ratio.</summary>
    private static (double EceLow, double EceHigh, double RatioLow, double RatioHigh) CalibrationIntervals(ShadowData data, float[] candidate, int bins, int resamples)
    {
        // Per request and bin: rows, sum of predictions, likes; resamples weight requests.
        var requests = data.RequestCount;
        var rows = new double[requests, bins];
        var predicted = new double[requests, bins];
        var liked = new double[requests, bins];
        for (var i = 0; i < candidate.Length; i++)
        {
            var b = Math.Clamp((int)(candidate[i] * bins), 0, bins - 1);
            var r = data.Request[i];
            rows[r, b]++;
            predicted[r, b] += candidate[i];
            liked[r, b] += data.Labels[i] ? 1 : 0;
        }

        var random = new Random(BootstrapSeed);
        var weights = new double[requests];
        var eces = new List<double>(resamples);
        var ratios = new List<double>(resamples);
        for (var s = 0; s < resamples; s++)
        {
            PairedBootstrap.Resample(random, weights);
            double total = 0, gap = 0, sumPredicted = 0, sumLiked = 0;
            for (var b = 0; b < bins; b++)
            {
                double n = 0, p = 0, y = 0;
                for (var r = 0; r < requests; r++)
                {
                    n += weights[r] * rows[r, b];
                    p += weights[r] * predicted[r, b];
                    y += weights[r] * liked[r, b];
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

    /// <summary>p99 time to score a batch of 100 candidates, over repeated batches from <paramref name="rows"/>.</summary>
    public static SentinelCheck ServingBudget(ModelScorer scorer, IReadOnlyList<float[]> rows, SentinelOptions options, int batches = 60)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(options);
        const int batchSize = 100;
        var threshold = $"p99 of a {batchSize}-candidate batch <= {options.ServingBudget.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)} ms";
        if (rows.Count == 0)
        {
            return SentinelCheck.Skip(SentinelChecks.ServingBudget, threshold, "no feature vectors to time");
        }

        var batch = Enumerable.Range(0, batchSize).Select(i => rows[i % rows.Count]).ToList();
        var scores = new float[batchSize];
        scorer.ScoreBatch(batch, scores);   // warm-up: the first batch builds the engine
        var times = new double[batches];
        for (var b = 0; b < batches; b++)
        {
            var start = Stopwatch.GetTimestamp();
            scorer.ScoreBatch(batch, scores);
            times[b] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        Array.Sort(times);
        var p99 = PairedBootstrap.Percentile(times, 0.99);
        var p50 = PairedBootstrap.Percentile(times, 0.5);
        var passed = p99 <= options.ServingBudget.TotalMilliseconds;
        return new SentinelCheck(SentinelChecks.ServingBudget, string.Create(CultureInfo.InvariantCulture, $"p99 {p99:F2} ms, p50 {p50:F2} ms over {batches} batches"), threshold, passed)
        {
            Value = p99,
            Explanation = passed ? "fast enough to serve" : "too slow to score a request's candidates within the serving budget",
            Plot = new Dictionary<string, double[]> { ["batchMs"] = times },
        };
    }
}
