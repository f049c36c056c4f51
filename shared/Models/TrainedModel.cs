using Microsoft.ML;
using Microsoft.ML.Data;

namespace Serverless.Models;

/// <summary>
/// A trained model in memory: its manifest, the ML.NET transformer (features -> calibrated
/// "Probability") and the input schema it was trained on. Immutable and safe to share; score it
/// through a <see cref="ModelScorer"/>.
/// </summary>
public sealed class TrainedModel : IDisposable
{
    private readonly MLContext ml;

    public TrainedModel(ModelManifest manifest, ITransformer transformer, DataViewSchema inputSchema)
        : this(manifest, transformer, inputSchema, new MLContext())
    {
    }

    internal TrainedModel(ModelManifest manifest, ITransformer transformer, DataViewSchema inputSchema, MLContext ml)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(inputSchema);
        Manifest = manifest;
        Transformer = transformer;
        InputSchema = inputSchema;
        this.ml = ml;
    }

    public ModelManifest Manifest { get; }

    public ITransformer Transformer { get; }

    public DataViewSchema InputSchema { get; }

    public int FeatureCount => Manifest.FeatureNames.Count;

    internal MLContext Context => ml;

    /// <summary>Writes the ML.NET model zip (transformer + input schema) to <paramref name="zip"/>; the stream stays open.</summary>
    public void Save(Stream zip)
    {
        ArgumentNullException.ThrowIfNull(zip);
        ml.Model.Save(Transformer, InputSchema, zip);
    }

    /// <summary>
    /// Reads an ML.NET model zip written by <see cref="Save"/> and checks it fits
    /// <paramref name="manifest"/>: a "Features" vector of FeatureNames.Count floats in, a float
    /// "Probability" out. Anything else (garbage bytes, a zip that is not an ML.NET model, a model of
    /// another shape) is an <see cref="InvalidDataException"/>.
    /// </summary>
    public static TrainedModel Load(Stream zip, ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(zip);
        ArgumentNullException.ThrowIfNull(manifest);
        var ml = new MLContext();
        ITransformer transformer;
        DataViewSchema schema;
        try
        {
            transformer = ml.Model.Load(zip, out schema);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidDataException($"Model {manifest.Version}: the artifact is not an ML.NET model zip ({ex.GetType().Name}: {ex.Message})", ex);
        }

        try
        {
            CheckShape(transformer, schema, manifest);
        }
        catch
        {
            (transformer as IDisposable)?.Dispose();
            throw;
        }

        return new TrainedModel(manifest, transformer, schema, ml);
    }

    public void Dispose() => (Transformer as IDisposable)?.Dispose();

    private static void CheckShape(ITransformer transformer, DataViewSchema schema, ModelManifest manifest)
    {
        var features = schema.GetColumnOrNull(ModelRows.Features);
        if (features?.Type is not VectorDataViewType { ItemType: var item, Size: var size } || item != NumberDataViewType.Single)
        {
            throw new InvalidDataException($"Model {manifest.Version}: the artifact has no '{ModelRows.Features}' float vector input column.");
        }

        if (size != manifest.FeatureNames.Count)
        {
            throw new InvalidDataException(
                $"Model {manifest.Version}: the artifact takes {size} features but its manifest names {manifest.FeatureNames.Count}.");
        }

        DataViewSchema output;
        try
        {
            output = transformer.GetOutputSchema(schema);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidDataException($"Model {manifest.Version}: the artifact cannot transform its own input schema ({ex.Message}).", ex);
        }

        if (output.GetColumnOrNull(ModelRows.Probability)?.Type != NumberDataViewType.Single)
        {
            throw new InvalidDataException($"Model {manifest.Version}: the artifact does not output a float '{ModelRows.Probability}' column (not a calibrated binary classifier).");
        }
    }
}
