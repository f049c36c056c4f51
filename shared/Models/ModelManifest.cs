using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Serverless.Models;

/// <summary>
/// What a model artifact is: who made it from what, for which feature config, and how good it was.
/// Stored beside the artifact (manifest.json) and summarised in the registry.
/// </summary>
public sealed record ModelManifest
{
    public required string Version { get; init; }

    public required TrainerKind Trainer { get; init; }

    public required string FeatureConfigHash { get; init; }

    /// <summary>The feature vector layout, in order; serving must feed exactly these.</summary>
    public required IReadOnlyList<string> FeatureNames { get; init; }

    /// <summary>Validation metrics; keys are in <see cref="ModelMetricNames"/>.</summary>
    public required IReadOnlyDictionary<string, double> Metrics { get; init; }

    public required DateTimeOffset TrainedFrom { get; init; }

    public required DateTimeOffset TrainedTo { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Training examples used (trees + calibration split).</summary>
    public required long ExampleCount { get; init; }

    public IReadOnlyList<string> Lineage { get; init; } = [];

    public IReadOnlyList<string> Dependencies { get; init; } = [];

    public required string MlNetVersion { get; init; }

    /// <summary>Impressions logged at or after this time were not used to train (shadow data); null: <see cref="TrainedTo"/>.</summary>
    public DateTimeOffset? HeldOutFrom { get; init; }

    /// <summary>The training set's distribution per feature, for the Sentinel's drift check.</summary>
    public IReadOnlyList<Serverless.Sentinel.FeatureProfile>? FeatureProfiles { get; init; }

    /// <summary>
    /// The effective number of members (Kish) in the rows <see cref="FeatureProfiles"/> were cut from: the
    /// independent units of the member features on the training side; null when the training set named no
    /// row contexts (models trained before they were recorded).
    /// </summary>
    public double? FeatureProfileMembers { get; init; }

    /// <summary>Raw contexts with the vectors and scores made at training, recomputed by the pipeline and every loader (stored compressed).</summary>
    [JsonConverter(typeof(Serverless.Sentinel.GoldenProbeSetJsonConverter))]
    public Serverless.Sentinel.GoldenProbeSet? GoldenProbes { get; init; }
}

/// <summary>The keys of <see cref="ModelManifest.Metrics"/>; all measured on the validation set.</summary>
public static class ModelMetricNames
{
    public const string Auc = "auc";
    public const string LogLoss = "logLoss";
    public const string Accuracy = "accuracy";

    /// <summary>Share of positive labels in the validation set.</summary>
    public const string PositiveRate = "positiveRate";

    /// <summary>Mean predicted probability on the validation set (compare with <see cref="PositiveRate"/>).</summary>
    public const string MeanProbability = "meanProbability";

    /// <summary>Expected calibration error over 10 equal-width probability bins.</summary>
    public const string CalibrationError = "calibrationError";

    /// <summary>AUC of ranking the same validation set by title popularity alone (the Sentinel's floor).</summary>
    public const string PopularityBaselineAuc = "popularityBaselineAuc";

    public const string TrainExamples = "trainExamples";
    public const string CalibrationExamples = "calibrationExamples";
    public const string ValidationExamples = "validationExamples";
}

/// <summary>JSON for manifests: System.Text.Json web defaults (camelCase), enums as names.</summary>
public static class ModelJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static string Serialize(ModelManifest manifest) => JsonSerializer.Serialize(manifest, Options);

    /// <summary>Parses a manifest; throws <see cref="InvalidDataException"/> when it is not one.</summary>
    public static ModelManifest Deserialize(ReadOnlySpan<byte> utf8)
    {
        try
        {
            var manifest = JsonSerializer.Deserialize<ModelManifest>(utf8, Options) ?? throw new InvalidDataException("The model manifest is empty (null).");
            ModelVersion.Validate(manifest.Version, nameof(manifest));
            return manifest;
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException)
        {
            throw new InvalidDataException("The model manifest is not valid: " + ex.Message, ex);
        }
    }

    /// <summary>The ML.NET version this code trains and loads with, e.g. "5.0.1".</summary>
    public static string MlNetVersion { get; } = FindMlNetVersion();

    private static string FindMlNetVersion()
    {
        var assembly = typeof(Microsoft.ML.MLContext).Assembly;
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        return informational?.Split('+')[0] ?? assembly.GetName().Version?.ToString() ?? "unknown";
    }
}
