using Microsoft.ML;
using Microsoft.ML.Data;

namespace Serverless.Models;

/// <summary>
/// The ML.NET row types. The feature vector length is only known at run time (it is the encoder's
/// feature count), so schemas are built with <see cref="SchemaDefinition"/> and a sized vector type.
/// </summary>
internal static class ModelRows
{
    public const string Features = "Features";
    public const string Label = "Label";
    public const string Weight = "Weight";
    public const string Score = "Score";
    public const string Probability = "Probability";

    public static SchemaDefinition TrainingSchema(int featureCount) => Sized(SchemaDefinition.Create(typeof(TrainingRow)), featureCount);

    public static SchemaDefinition ScoringSchema(int featureCount) => Sized(SchemaDefinition.Create(typeof(ScoringInput)), featureCount);

    public static IDataView Load(MLContext ml, IReadOnlyList<TrainingExample> examples, int featureCount)
    {
        var rows = new List<TrainingRow>(examples.Count);
        for (var i = 0; i < examples.Count; i++)
        {
            var e = examples[i];
            if (e.Features.Length != featureCount)
            {
                throw new ArgumentException($"Example {i} has {e.Features.Length} features; the feature config has {featureCount}.", nameof(examples));
            }

            rows.Add(new TrainingRow { Features = e.Features, Label = e.Label, Weight = e.Weight });
        }

        return ml.Data.LoadFromEnumerable(rows, TrainingSchema(featureCount));
    }

    private static SchemaDefinition Sized(SchemaDefinition schema, int featureCount)
    {
        schema[Features].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureCount);
        return schema;
    }
}

internal sealed class TrainingRow
{
    public float[] Features { get; set; } = [];

    public bool Label { get; set; }

    public float Weight { get; set; } = 1;
}

internal sealed class ScoringInput
{
    public float[] Features { get; set; } = [];
}

internal sealed class ScoringOutput
{
    public float Probability { get; set; }
}
