using System.Text.Json.Serialization;

namespace Serverless.Models;

/// <summary>The learning algorithms a model can be trained with. Every one yields calibrated probabilities.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TrainerKind>))]
public enum TrainerKind
{
    LightGbm,
    FastTree,
    LogisticRegression,
}

/// <summary>One labelled feature vector: <see cref="Label"/> is true when the member liked the title (rating >= 4).</summary>
public sealed record TrainingExample(float[] Features, bool Label, float Weight = 1);

/// <summary>
/// Everything a training run needs. Feature vectors come from the shared encoder: their length is
/// <see cref="FeatureNames"/>.Count and <see cref="FeatureConfigHash"/> identifies the config that made them.
/// </summary>
public sealed record TrainingRequest
{
    public required IReadOnlyList<string> FeatureNames { get; init; }

    public required string FeatureConfigHash { get; init; }

    public required IReadOnlyList<TrainingExample> Train { get; init; }

    public required IReadOnlyList<TrainingExample> Validation { get; init; }

    public TrainerKind Trainer { get; init; } = TrainerKind.LightGbm;

    /// <summary>The model version, [A-Za-z0-9._-]{1,64}; see <see cref="ModelVersion"/>.</summary>
    public required string Version { get; init; }

    /// <summary>Start of the training window (event time of the oldest fact the examples depend on).</summary>
    public required DateTimeOffset TrainedFrom { get; init; }

    /// <summary>End of the training window: nothing known after it went into the examples.</summary>
    public required DateTimeOffset TrainedTo { get; init; }

    /// <summary>Where the examples came from, e.g. data set blob names.</summary>
    public IReadOnlyList<string> Lineage { get; init; } = [];

    /// <summary>Data the model needs at serving time, e.g. "title-stats@2018-01-01T00:00:00Z".</summary>
    public IReadOnlyList<string> Dependencies { get; init; } = [];

    /// <summary>
    /// The run's randomness: the seeded MLContext, the trees' seed, and which share of
    /// <see cref="Train"/> the tree trainers hold out for their calibrator (so two seeds of LightGBM or
    /// FastTree grow their trees on different examples and are different models). Logistic regression
    /// (L-BFGS over the whole set, one thread) has no randomness: every seed gives the same model.
    /// </summary>
    public int Seed { get; init; } = 42;

    /// <summary>
    /// Share of <see cref="Train"/> held out (seeded shuffle) to fit the Platt calibrator of the tree
    /// trainers, so calibration is not fitted on scores the trees have memorised. Ignored by logistic regression.
    /// </summary>
    public double CalibrationFraction { get; init; } = 0.2;

    /// <summary>Boosting rounds (trees) for LightGBM and FastTree.</summary>
    public int NumberOfTrees { get; init; } = 100;

    /// <summary>Leaves per tree for LightGBM and FastTree.</summary>
    public int NumberOfLeaves { get; init; } = 16;

    /// <summary>Creation time stamped on the manifest; null = now.</summary>
    public DateTimeOffset? CreatedAt { get; init; }
}
