namespace Serverless.Models;

/// <summary>Calibration measures computed here rather than trusted from a library.</summary>
public static class Calibration
{
    public const int DefaultBins = 10;

    /// <summary>
    /// Expected calibration error: probabilities go into <paramref name="bins"/> equal-width bins on
    /// [0,1]; ECE = sum over bins of (bin size / n) * |mean probability - share of positives|.
    /// 0 is perfect; a model that always says 0.5 on 50/50 data scores 0 too, so read it with AUC.
    /// </summary>
    public static double ExpectedCalibrationError(IReadOnlyList<float> probabilities, IReadOnlyList<bool> labels, int bins = DefaultBins)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        if (probabilities.Count != labels.Count)
        {
            throw new ArgumentException($"{probabilities.Count} probabilities but {labels.Count} labels.", nameof(labels));
        }

        if (probabilities.Count == 0)
        {
            return 0;
        }

        var count = new long[bins];
        var sumP = new double[bins];
        var positives = new double[bins];
        for (var i = 0; i < probabilities.Count; i++)
        {
            var p = probabilities[i];
            if (!float.IsFinite(p))
            {
                return double.NaN;
            }

            var b = Math.Clamp((int)(p * bins), 0, bins - 1);
            count[b]++;
            sumP[b] += p;
            positives[b] += labels[i] ? 1 : 0;
        }

        var ece = 0.0;
        for (var b = 0; b < bins; b++)
        {
            if (count[b] > 0)
            {
                ece += count[b] / (double)probabilities.Count * Math.Abs((sumP[b] - positives[b]) / count[b]);
            }
        }

        return ece;
    }
}
