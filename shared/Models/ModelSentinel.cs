using System.Globalization;

namespace Serverless.Models;

/// <summary>
/// One Sentinel check: what was measured, against what, and the verdict. A skipped check passes and
/// says why in <see cref="Explanation"/>; <see cref="Plot"/> holds the numbers behind its chart
/// (e.g. the reliability curve), named series of equal length.
/// </summary>
public sealed record SentinelCheck(string Name, string Measured, string Threshold, bool Passed)
{
    /// <summary>Not run (no live model, too few logs, ...): passes, and <see cref="Explanation"/> says why.</summary>
    public bool Skipped { get; init; }

    /// <summary>The headline number, when the check has one (for sorting and charts). NaN and infinities are written as JSON strings.</summary>
    [System.Text.Json.Serialization.JsonNumberHandling(System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals)]
    public double? Value { get; init; }

    /// <summary>One line a person reads: what the verdict means.</summary>
    public string? Explanation { get; init; }

    /// <summary>The data behind the check's plot (e.g. an empty reliability bin is NaN, written as the JSON string "NaN").</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(PlotJsonConverter))]
    public IReadOnlyDictionary<string, double[]>? Plot { get; init; }

    public string Verdict => Skipped ? "skipped" : Passed ? "passed" : "failed";

    public static SentinelCheck Skip(string name, string threshold, string why) =>
        new(name, "skipped: " + why, threshold, true) { Skipped = true, Explanation = why };
}

/// <summary>Plot series as JSON, with NaN and infinities as the strings "NaN", "Infinity" and "-Infinity" (JSON has no such numbers).</summary>
public sealed class PlotJsonConverter : System.Text.Json.Serialization.JsonConverter<IReadOnlyDictionary<string, double[]>>
{
    private static readonly System.Text.Json.JsonSerializerOptions Named = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public override IReadOnlyDictionary<string, double[]>? Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options) =>
        System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, double[]>>(ref reader, Named);

    public override void Write(System.Text.Json.Utf8JsonWriter writer, IReadOnlyDictionary<string, double[]> value, System.Text.Json.JsonSerializerOptions options) =>
        System.Text.Json.JsonSerializer.Serialize(writer, value, Named);
}

/// <summary>The Sentinel's verdict on one model: it passes only if every check passes.</summary>
public sealed record SentinelReport(string? Version, IReadOnlyList<SentinelCheck> Checks)
{
    public bool Passed => Checks.Count > 0 && Checks.All(c => c.Passed);

    [System.Text.Json.Serialization.JsonIgnore]
    public IEnumerable<SentinelCheck> Failures => Checks.Where(c => !c.Passed);

    public override string ToString() =>
        $"{(Passed ? "PASSED" : "FAILED")} {Version ?? "(unknown)"}: " + string.Join("; ", Checks.Select(c => $"{c.Name} {(c.Skipped ? "skipped" : c.Passed ? "ok" : "FAIL")} ({c.Measured} vs {c.Threshold})"));
}

/// <summary>Sentinel thresholds.</summary>
public sealed record SentinelOptions
{
    public static SentinelOptions Default { get; } = new();

    /// <summary>Fewest probe rows for the score checks to mean anything.</summary>
    public int MinProbeRows { get; init; } = 1;

    /// <summary>Check that probe scores are not all (nearly) the same: a constant model is broken.</summary>
    public bool CheckScoreSpread { get; init; } = true;

    /// <summary>Probe scores must have a standard deviation above this.</summary>
    public double MinScoreStdDev { get; init; } = 1e-6;

    /// <summary>The spread check needs at least this many probe rows (otherwise it is reported as skipped and passes).</summary>
    public int MinProbeRowsForSpread { get; init; } = 10;

    /// <summary>Fewest labelled shadow impressions for the shadow checks (accuracy, calibration); fewer: skipped, floors apply.</summary>
    public int MinShadowRows { get; init; } = 500;

    /// <summary>Fewest logged requests with a positive label for the shadow accuracy check.</summary>
    public int MinShadowRequests { get; init; } = 30;

    /// <summary>
    /// Fewest distinct members behind the shadow data (when the log names them) for the shadow-accuracy and
    /// calibration checks: their bootstrap resamples members, and a handful of members gives intervals too
    /// coarse to be honest (one member: every resample is the sample itself). Below it both are skipped, saying so.
    /// </summary>
    public int MinShadowMembers { get; init; } = 10;

    /// <summary>The most recent labelled impressions read as shadow data (older ones are left out).</summary>
    public int MaxShadowRows { get; init; } = 20_000;

    /// <summary>Paired bootstrap resamples over members, or requests when members are unknown (seeded: the verdict is deterministic).</summary>
    public int BootstrapResamples { get; init; } = 200;

    /// <summary>The candidate fails when its AUC is below live's by more than this with 95% confidence.</summary>
    public double AucTolerance { get; init; } = 0.01;

    /// <summary>The candidate fails when its log loss is above live's by more than this with 95% confidence.</summary>
    public double LogLossTolerance { get; init; } = 0.02;

    /// <summary>The candidate fails when its mean NDCG@10 per request is below live's by more than this with 95% confidence.</summary>
    public double NdcgTolerance { get; init; } = 0.02;

    /// <summary>A feature drifts when its population stability index passes this (0.2: the customary "significant shift").</summary>
    public double MaxPsi { get; init; } = 0.2;

    /// <summary>Largest expected calibration error (10 bins) on the shadow data.</summary>
    public double MaxCalibrationError { get; init; } = 0.05;

    /// <summary>sum(predicted) / sum(labels) on the shadow data must lie within 1 +- this.</summary>
    public double MaxSumRatioDeviation { get; init; } = 0.2;

    /// <summary>
    /// p99 time to score a 100-candidate batch with the candidate, over 60 batches of logged rows, each
    /// batch counted at its fastest of repeated timings (noise only adds time; see ShadowChecks.ServingBudget).
    /// </summary>
    public TimeSpan ServingBudget { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// When a serving instance's loader refuses the version the live alias points to, move the alias
    /// back to the last version that passed (ETag-guarded), so cold instances never start on a refused model.
    /// </summary>
    public bool RepublishOnRefusal { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting out of range.</summary>
    public SentinelOptions Validate()
    {
        static void Check(bool ok, string name, string rule)
        {
            if (!ok) { throw new ArgumentException($"Sentinel__{name} {rule}."); }
        }

        Check(MinProbeRows >= 1, nameof(MinProbeRows), "must be at least 1");
        Check(double.IsFinite(MinScoreStdDev) && MinScoreStdDev >= 0, nameof(MinScoreStdDev), "must be >= 0");
        Check(MinProbeRowsForSpread >= 2, nameof(MinProbeRowsForSpread), "must be at least 2");
        Check(MinShadowRows >= 1, nameof(MinShadowRows), "must be at least 1");
        Check(MinShadowRequests >= 2, nameof(MinShadowRequests), "must be at least 2");
        Check(MinShadowMembers >= 2, nameof(MinShadowMembers), "must be at least 2");
        Check(MaxShadowRows >= MinShadowRows, nameof(MaxShadowRows), "must be at least MinShadowRows");
        Check(BootstrapResamples is >= 20 and <= 10_000, nameof(BootstrapResamples), "must be 20..10000");
        Check(AucTolerance is >= 0 and < 1, nameof(AucTolerance), "must be in [0, 1)");
        Check(LogLossTolerance >= 0, nameof(LogLossTolerance), "must be >= 0");
        Check(NdcgTolerance is >= 0 and < 1, nameof(NdcgTolerance), "must be in [0, 1)");
        Check(MaxPsi > 0, nameof(MaxPsi), "must be > 0");
        Check(MaxCalibrationError is > 0 and <= 1, nameof(MaxCalibrationError), "must be in (0, 1]");
        Check(MaxSumRatioDeviation is > 0 and < 1, nameof(MaxSumRatioDeviation), "must be in (0, 1)");
        Check(ServingBudget > TimeSpan.Zero && ServingBudget <= TimeSpan.FromSeconds(10), nameof(ServingBudget), "must be in (0, 10 s]");
        return this;
    }
}

/// <summary>
/// The checks a serving instance runs before a new model replaces the one in memory (and the
/// pipeline runs before publishing): the artifact loads, it was trained on exactly the serving
/// encoder's features (names in order and config hash), and it scores a probe batch with finite
/// probabilities in [0,1] that are not all the same. Never throws for a bad model: a failure is a
/// failed check in the report.
/// </summary>
public static class ModelSentinel
{
    public const string ArtifactLoads = "artifact-loads";
    public const string FeatureConfigHash = "feature-config-hash";
    public const string FeatureNames = "feature-names";
    public const string ProbeScoresValid = "probe-scores-valid";
    public const string ProbeScoreSpread = "probe-score-spread";

    /// <summary>The checks with the default thresholds (tests and tools; the app passes its configured <see cref="SentinelOptions"/>).</summary>
    public static SentinelReport Check(Func<TrainedModel> load, string expectedHash, IReadOnlyList<string> expectedNames, IReadOnlyList<float[]> probe) =>
        Check(load, expectedHash, expectedNames, probe, SentinelOptions.Default);

    /// <summary>The checks with <paramref name="options"/>' thresholds; the loaded model is disposed.</summary>
    public static SentinelReport Check(Func<TrainedModel> load, string expectedHash, IReadOnlyList<string> expectedNames, IReadOnlyList<float[]> probe, SentinelOptions options)
    {
        var report = Check(load, expectedHash, expectedNames, probe, options, out var model);
        model?.Dispose();
        return report;
    }

    /// <summary>
    /// Runs the checks; when they all pass, <paramref name="accepted"/> is the loaded model (the
    /// caller owns it and can serve it without loading again), otherwise null (and it was disposed).
    /// </summary>
    public static SentinelReport Check(
        Func<TrainedModel> load,
        string expectedHash,
        IReadOnlyList<string> expectedNames,
        IReadOnlyList<float[]> probe,
        SentinelOptions options,
        out TrainedModel? accepted)
    {
        ArgumentNullException.ThrowIfNull(load);
        ArgumentNullException.ThrowIfNull(expectedNames);
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(options);
        accepted = null;
        var checks = new List<SentinelCheck>();

        TrainedModel? model = null;
        try
        {
            model = load();
            checks.Add(new(ArtifactLoads, $"loaded {model.Manifest.Trainer} model {model.Manifest.Version}", "loads", true));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            checks.Add(new(ArtifactLoads, $"{ex.GetType().Name}: {ex.Message}", "loads", false));
        }

        if (model is null)
        {
            foreach (var name in new[] { FeatureConfigHash, FeatureNames, ProbeScoresValid })
            {
                checks.Add(new(name, "not run: the artifact did not load", "artifact loads", false));
            }

            return new SentinelReport(null, checks);
        }

        try
        {
            var manifest = model.Manifest;
            checks.Add(new(FeatureConfigHash, manifest.FeatureConfigHash, $"== {expectedHash}", string.Equals(manifest.FeatureConfigHash, expectedHash, StringComparison.Ordinal)));
            checks.Add(CompareNames(manifest.FeatureNames, expectedNames));
            checks.AddRange(ScoreProbe(model, probe, options));
            var report = new SentinelReport(manifest.Version, checks);
            if (report.Passed)
            {
                accepted = model;
                model = null;
            }

            return report;
        }
        finally
        {
            model?.Dispose();
        }
    }

    private static SentinelCheck CompareNames(IReadOnlyList<string> actual, IReadOnlyList<string> expected)
    {
        var threshold = $"the serving encoder's {expected.Count} names, same order";
        for (var i = 0; i < Math.Min(actual.Count, expected.Count); i++)
        {
            if (!string.Equals(actual[i], expected[i], StringComparison.Ordinal))
            {
                return new(FeatureNames, $"{actual.Count} names; index {i} is '{actual[i]}', serving has '{expected[i]}'", threshold, false);
            }
        }

        return actual.Count == expected.Count
            ? new(FeatureNames, $"{actual.Count} names, identical", threshold, true)
            : new(FeatureNames, $"{actual.Count} names (serving has {expected.Count})", threshold, false);
    }

    private static IEnumerable<SentinelCheck> ScoreProbe(TrainedModel model, IReadOnlyList<float[]> probe, SentinelOptions options)
    {
        const string validThreshold = "every score finite and in [0,1]";
        if (probe.Count < options.MinProbeRows)
        {
            yield return new(ProbeScoresValid, $"{probe.Count} probe rows", $">= {options.MinProbeRows} probe rows; " + validThreshold, false);
            yield break;
        }

        var scores = new float[probe.Count];
        string? error = null;
        try
        {
            using var scorer = new ModelScorer(model);
            scorer.ScoreBatch(probe, scores);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            error = $"scoring failed: {ex.GetType().Name}: {ex.Message}";
        }

        if (error is not null)
        {
            yield return new(ProbeScoresValid, error, validThreshold, false);
            yield break;
        }

        var bad = 0;
        var firstBad = -1;
        foreach (var (s, i) in scores.Select((s, i) => (s, i)))
        {
            if (!float.IsFinite(s) || s < 0 || s > 1)
            {
                bad++;
                firstBad = firstBad < 0 ? i : firstBad;
            }
        }

        yield return bad == 0
            ? new(ProbeScoresValid, $"{scores.Length}/{scores.Length} valid, range [{F(scores.Min())}, {F(scores.Max())}]", validThreshold, true)
            : new(ProbeScoresValid, $"{bad}/{scores.Length} invalid; first at row {firstBad}: {F(scores[firstBad])}", validThreshold, false);

        if (!options.CheckScoreSpread || bad > 0)
        {
            yield break;
        }

        var spreadThreshold = $"std dev > {F(options.MinScoreStdDev)} over >= {options.MinProbeRowsForSpread} rows";
        if (scores.Length < options.MinProbeRowsForSpread)
        {
            yield return new(ProbeScoreSpread, $"skipped: {scores.Length} probe rows", spreadThreshold, true);
            yield break;
        }

        var mean = scores.Average(s => (double)s);
        var std = Math.Sqrt(scores.Average(s => (s - mean) * (s - mean)));
        yield return new(ProbeScoreSpread, $"std dev {F(std)}, mean {F(mean)}", spreadThreshold, std > options.MinScoreStdDev);
    }

    private static string F(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}
