using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Trainers.FastTree;
using Microsoft.ML.Trainers.LightGbm;

namespace Serverless.Models;

/// <summary>
/// Trains a binary "member likes title" classifier with calibrated probabilities and measures it on
/// the validation set. Deterministic for a given request: one seeded MLContext, single-threaded
/// trainers, a seeded split for the calibration hold-out.
/// </summary>
public static class ModelTrainer
{
    public const double MaxCalibrationFraction = 0.5;
    public const int MinCalibrationExamples = 50;

    public static TrainedModel Train(TrainingRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);
        var ml = new MLContext(request.Seed);
        var featureCount = request.FeatureNames.Count;
        var trained = request.Trainer == TrainerKind.LogisticRegression
            ? FitLogisticRegression(ml, request, featureCount)
            : FitTreesWithPlatt(ml, request, featureCount);

        var validation = ModelRows.Load(ml, request.Validation, featureCount);
        var metrics = Measure(ml, trained.Model, validation, request.Validation);
        metrics[ModelMetricNames.TrainExamples] = trained.TrainCount;
        metrics[ModelMetricNames.CalibrationExamples] = trained.CalibrationCount;

        var manifest = new ModelManifest
        {
            Version = request.Version,
            Trainer = request.Trainer,
            FeatureConfigHash = request.FeatureConfigHash,
            FeatureNames = [.. request.FeatureNames],
            Metrics = metrics,
            TrainedFrom = request.TrainedFrom,
            TrainedTo = request.TrainedTo,
            CreatedAt = request.CreatedAt ?? DateTimeOffset.UtcNow,
            ExampleCount = request.Train.Count,
            Lineage = [.. request.Lineage],
            Dependencies = [.. request.Dependencies],
            MlNetVersion = ModelJson.MlNetVersion,
        };
        return new TrainedModel(manifest, trained.Model, validation.Schema, ml);
    }

    private sealed record Fitted(ITransformer Model, int TrainCount, int CalibrationCount);

    private static Fitted FitLogisticRegression(MLContext ml, TrainingRequest request, int featureCount)
    {
        var trainer = ml.BinaryClassification.Trainers.LbfgsLogisticRegression(new LbfgsLogisticRegressionBinaryTrainer.Options
        {
            LabelColumnName = ModelRows.Label,
            FeatureColumnName = ModelRows.Features,
            ExampleWeightColumnName = ModelRows.Weight,
            NumberOfThreads = 1,
        });
        return new Fitted(trainer.Fit(ModelRows.Load(ml, request.Train, featureCount)), request.Train.Count, 0);
    }

    /// <summary>
    /// Boosted trees, then a Platt (sigmoid) calibrator fitted on a seeded hold-out of the training
    /// examples that the trees never saw. With CalibrationFraction = 0 the calibrator is fitted on the
    /// training examples (ML.NET's own default, over-confident for deep ensembles).
    /// </summary>
    private static Fitted FitTreesWithPlatt(MLContext ml, TrainingRequest request, int featureCount)
    {
        var (treeExamples, calibrationExamples) = SplitForCalibration(request);
        IEstimator<ITransformer> trees = request.Trainer switch
        {
            TrainerKind.LightGbm => ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
            {
                LabelColumnName = ModelRows.Label,
                FeatureColumnName = ModelRows.Features,
                ExampleWeightColumnName = ModelRows.Weight,
                NumberOfIterations = request.NumberOfTrees,
                NumberOfLeaves = request.NumberOfLeaves,
                MinimumExampleCountPerLeaf = 20,
                LearningRate = 0.1,
                Seed = request.Seed,
                // One thread: LightGBM's multi-threaded histogram sums are not bit-for-bit reproducible.
                NumberOfThreads = 1,
                Silent = true,
                Verbose = false,
            }),
            TrainerKind.FastTree => ml.BinaryClassification.Trainers.FastTree(new FastTreeBinaryTrainer.Options
            {
                LabelColumnName = ModelRows.Label,
                FeatureColumnName = ModelRows.Features,
                ExampleWeightColumnName = ModelRows.Weight,
                NumberOfTrees = request.NumberOfTrees,
                NumberOfLeaves = request.NumberOfLeaves,
                MinimumExampleCountPerLeaf = 20,
                LearningRate = 0.1,
                Seed = request.Seed,
                NumberOfThreads = 1,
            }),
            _ => throw new ArgumentOutOfRangeException(nameof(request), request.Trainer, "not a tree trainer"),
        };

        var treeModel = trees.Fit(ModelRows.Load(ml, treeExamples, featureCount));
        var calibrationData = treeModel.Transform(ModelRows.Load(ml, calibrationExamples, featureCount));
        var platt = ml.BinaryClassification.Calibrators.Platt(ModelRows.Label, ModelRows.Score, ModelRows.Weight).Fit(calibrationData);
        var chain = new TransformerChain<ITransformer>(treeModel, platt);
        var calibrationCount = ReferenceEquals(calibrationExamples, request.Train) ? 0 : calibrationExamples.Count;
        return new Fitted(chain, treeExamples.Count, calibrationCount);
    }

    private static (IReadOnlyList<TrainingExample> Trees, IReadOnlyList<TrainingExample> Calibration) SplitForCalibration(TrainingRequest request)
    {
        var held = (int)Math.Round(request.Train.Count * request.CalibrationFraction);
        if (held == 0)
        {
            return (request.Train, request.Train);
        }

        var order = Enumerable.Range(0, request.Train.Count).ToArray();
        new Random(request.Seed).Shuffle(order);
        var calibration = order.Take(held).Order().Select(i => request.Train[i]).ToList();
        var trees = order.Skip(held).Order().Select(i => request.Train[i]).ToList();
        return (trees, calibration);
    }

    private static Dictionary<string, double> Measure(MLContext ml, ITransformer model, IDataView validation, IReadOnlyList<TrainingExample> examples)
    {
        var scored = model.Transform(validation);
        var m = ml.BinaryClassification.Evaluate(scored, ModelRows.Label, ModelRows.Score, ModelRows.Probability);
        var probabilities = scored.GetColumn<float>(ModelRows.Probability).ToArray();
        var labels = examples.Select(e => e.Label).ToArray();
        return new Dictionary<string, double>(StringComparer.Ordinal)
        {
            [ModelMetricNames.Auc] = m.AreaUnderRocCurve,
            [ModelMetricNames.LogLoss] = m.LogLoss,
            [ModelMetricNames.Accuracy] = m.Accuracy,
            [ModelMetricNames.PositiveRate] = labels.Average(l => l ? 1.0 : 0.0),
            [ModelMetricNames.MeanProbability] = probabilities.Average(p => (double)p),
            [ModelMetricNames.CalibrationError] = Calibration.ExpectedCalibrationError(probabilities, labels),
            [ModelMetricNames.ValidationExamples] = examples.Count,
        };
    }

    private static void Validate(TrainingRequest request)
    {
        ModelVersion.Validate(request.Version, nameof(request));
        if (request.FeatureNames.Count == 0)
        {
            throw new ArgumentException("At least one feature name is required.", nameof(request));
        }

        if (request.FeatureNames.Distinct(StringComparer.Ordinal).Count() != request.FeatureNames.Count)
        {
            throw new ArgumentException("Feature names must be unique.", nameof(request));
        }

        if (string.IsNullOrWhiteSpace(request.FeatureConfigHash))
        {
            throw new ArgumentException("The feature config hash is required.", nameof(request));
        }

        if (request.TrainedTo < request.TrainedFrom)
        {
            throw new ArgumentException($"The training window ends ({request.TrainedTo:O}) before it starts ({request.TrainedFrom:O}).", nameof(request));
        }

        if (request.CalibrationFraction is < 0 or > MaxCalibrationFraction || double.IsNaN(request.CalibrationFraction))
        {
            throw new ArgumentException($"CalibrationFraction must be in [0, {MaxCalibrationFraction}].", nameof(request));
        }

        if (request.NumberOfTrees < 1 || request.NumberOfLeaves < 2)
        {
            throw new ArgumentException("NumberOfTrees must be >= 1 and NumberOfLeaves >= 2.", nameof(request));
        }

        RequireBothClasses(request.Train, "training");
        RequireBothClasses(request.Validation, "validation");
        if (request.Trainer != TrainerKind.LogisticRegression && request.CalibrationFraction > 0
            && request.Train.Count * request.CalibrationFraction < MinCalibrationExamples)
        {
            throw new ArgumentException(
                $"The calibration hold-out would have fewer than {MinCalibrationExamples} examples; add data or set CalibrationFraction = 0.", nameof(request));
        }
    }

    private static void RequireBothClasses(IReadOnlyList<TrainingExample> examples, string set)
    {
        var positives = examples.Count(e => e.Label);
        if (positives == 0 || positives == examples.Count)
        {
            throw new ArgumentException($"The {set} set needs both liked and not-liked examples ({positives} of {examples.Count} are positive).", nameof(examples));
        }
    }
}
