namespace Serverless.Sentinel;

/// <summary>
/// Ranking and probability metrics on shadow data, with request weights so a bootstrap resample
/// (requests drawn with replacement) is a weight vector, never a copy of the rows: AUC over all
/// impressions, log loss per impression, NDCG@10 per logged request.
/// </summary>
public sealed class ShadowMetrics
{
    public const int NdcgDepth = 10;
    private const double Epsilon = 1e-7;

    private readonly int[] order;          // rows by score ascending
    private readonly float[] scores;
    private readonly bool[] labels;
    private readonly int[] request;
    private readonly double[] requestLogLoss;
    private readonly int[] requestRows;
    private readonly double[] requestNdcg;  // NaN when the request has no positive label

    public ShadowMetrics(ShadowData data, float[] scores)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Length != data.Count)
        {
            throw new ArgumentException($"{scores.Length} scores for {data.Count} rows.", nameof(scores));
        }

        this.scores = scores;
        labels = data.Labels.ToArray();
        request = data.Request;
        order = Enumerable.Range(0, scores.Length).ToArray();
        Array.Sort(scores.ToArray(), order);
        requestLogLoss = new double[data.RequestCount];
        requestRows = new int[data.RequestCount];
        for (var i = 0; i < scores.Length; i++)
        {
            var p = Math.Clamp(scores[i], Epsilon, 1 - Epsilon);
            requestLogLoss[request[i]] -= labels[i] ? Math.Log(p) : Math.Log(1 - p);
            requestRows[request[i]]++;
        }

        requestNdcg = Ndcg(data.RequestCount);
    }

    /// <summary>Requests with at least one positive label (the ones NDCG is defined for).</summary>
    public int RankedRequests => requestNdcg.Count(v => !double.IsNaN(v));

    public double Auc(double[]? requestWeights = null)
    {
        double wPos = 0, wNeg = 0, area = 0, negBelow = 0;
        var i = 0;
        while (i < order.Length)
        {
            // One group of tied scores: its positives count the negatives below it and half of those tied.
            var j = i;
            double groupPos = 0, groupNeg = 0;
            while (j < order.Length && scores[order[j]] == scores[order[i]])
            {
                var row = order[j];
                var w = requestWeights is null ? 1 : requestWeights[request[row]];
                if (labels[row]) { groupPos += w; } else { groupNeg += w; }
                j++;
            }

            area += groupPos * (negBelow + 0.5 * groupNeg);
            negBelow += groupNeg;
            wPos += groupPos;
            wNeg += groupNeg;
            i = j;
        }

        return wPos == 0 || wNeg == 0 ? double.NaN : area / (wPos * wNeg);
    }

    public double LogLoss(double[]? requestWeights = null)
    {
        double sum = 0, rows = 0;
        for (var r = 0; r < requestLogLoss.Length; r++)
        {
            var w = requestWeights is null ? 1 : requestWeights[r];
            sum += w * requestLogLoss[r];
            rows += w * requestRows[r];
        }

        return rows == 0 ? double.NaN : sum / rows;
    }

    public double MeanNdcg(double[]? requestWeights = null)
    {
        double sum = 0, count = 0;
        for (var r = 0; r < requestNdcg.Length; r++)
        {
            if (!double.IsNaN(requestNdcg[r]))
            {
                var w = requestWeights is null ? 1 : requestWeights[r];
                sum += w * requestNdcg[r];
                count += w;
            }
        }

        return count == 0 ? double.NaN : sum / count;
    }

    private double[] Ndcg(int requests)
    {
        var rows = new List<int>[requests];
        for (var i = 0; i < request.Length; i++)
        {
            (rows[request[i]] ??= []).Add(i);
        }

        var result = new double[requests];
        for (var r = 0; r < requests; r++)
        {
            var items = rows[r] ?? [];
            var positives = items.Count(i => labels[i]);
            if (positives == 0)
            {
                result[r] = double.NaN;
                continue;
            }

            // Ties broken by row order (the logged position), so the value does not depend on sort stability.
            var ranked = items.OrderByDescending(i => scores[i]).ThenBy(i => i).Take(NdcgDepth).ToList();
            double dcg = 0, ideal = 0;
            for (var k = 0; k < ranked.Count; k++)
            {
                dcg += labels[ranked[k]] ? 1 / Math.Log2(k + 2) : 0;
            }

            for (var k = 0; k < Math.Min(positives, NdcgDepth); k++)
            {
                ideal += 1 / Math.Log2(k + 2);
            }

            result[r] = dcg / ideal;
        }

        return result;
    }
}

/// <summary>A 95% paired bootstrap interval of candidate minus live for one metric.</summary>
public sealed record PairedInterval(string Metric, double Candidate, double Live, double Difference, double Lower, double Upper);

/// <summary>
/// Paired bootstrap over the shadow data's units (members when known, else logged requests): each
/// resample draws units with replacement (a seeded generator, so the verdict is deterministic) and
/// measures both models on the same resample.
/// </summary>
public static class PairedBootstrap
{
    /// <summary>
    /// The paired bootstrap: each resample draws <paramref name="data"/>'s units (members when known,
    /// else requests) with replacement and weights every request by its unit's count, so requests of one
    /// member move together, as they do in the world.
    /// </summary>
    public static IReadOnlyList<PairedInterval> Run(ShadowMetrics candidate, ShadowMetrics live, ShadowData data, int resamples, int seed)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(data);
        var random = new Random(seed);
        var units = new double[data.UnitCount];
        var weights = new double[data.RequestCount];
        var auc = new double[resamples];
        var logLoss = new double[resamples];
        var ndcg = new double[resamples];
        for (var b = 0; b < resamples; b++)
        {
            Resample(random, units, data.UnitOfRequest, weights);
            auc[b] = candidate.Auc(weights) - live.Auc(weights);
            logLoss[b] = candidate.LogLoss(weights) - live.LogLoss(weights);
            ndcg[b] = candidate.MeanNdcg(weights) - live.MeanNdcg(weights);
        }

        return
        [
            Interval("auc", candidate.Auc(), live.Auc(), auc),
            Interval("logLoss", candidate.LogLoss(), live.LogLoss(), logLoss),
            Interval("ndcg@10", candidate.MeanNdcg(), live.MeanNdcg(), ndcg),
        ];
    }

    private static PairedInterval Interval(string metric, double candidate, double live, double[] differences)
    {
        var (lower, upper) = Interval95(differences);
        return new(metric, candidate, live, candidate - live, lower, upper);
    }

    /// <summary>One bootstrap resample: each of the weights' units drawn with replacement, as counts.</summary>
    public static void Resample(Random random, double[] weights)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(weights);
        Array.Clear(weights);
        for (var k = 0; k < weights.Length; k++)
        {
            weights[random.Next(weights.Length)]++;
        }
    }

    /// <summary>One cluster resample: the units drawn with replacement, then each request weighted by its unit's count.</summary>
    public static void Resample(Random random, double[] units, int[] unitOfRequest, double[] requestWeights)
    {
        ArgumentNullException.ThrowIfNull(unitOfRequest);
        ArgumentNullException.ThrowIfNull(requestWeights);
        Resample(random, units);
        for (var r = 0; r < requestWeights.Length; r++)
        {
            requestWeights[r] = units[unitOfRequest[r]];
        }
    }

    /// <summary>The 2.5% and 97.5% percentiles of the finite values; NaN when there are none.</summary>
    public static (double Lower, double Upper) Interval95(IEnumerable<double> values)
    {
        var finite = values.Where(double.IsFinite).Order().ToArray();
        return finite.Length == 0 ? (double.NaN, double.NaN) : (Percentile(finite, 0.025), Percentile(finite, 0.975));
    }

    /// <summary>Linear interpolation between order statistics of a sorted array.</summary>
    public static double Percentile(double[] sorted, double q)
    {
        var position = q * (sorted.Length - 1);
        var low = (int)Math.Floor(position);
        var high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + (position - low) * (sorted[high] - sorted[low]);
    }
}
