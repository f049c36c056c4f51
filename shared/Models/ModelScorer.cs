using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;

namespace Serverless.Models;

/// <summary>
/// Scores feature vectors with one loaded model, from any number of threads. ML.NET's
/// PredictionEngine is not thread-safe, so each engine sits in an object pool together with its
/// own input and output rows (reused across calls: scoring does not allocate). Register one scorer
/// per loaded model as a singleton; dispose it when the model is swapped out.
/// </summary>
public sealed class ModelScorer : IDisposable
{
    private readonly ObjectPool<Session> pool;
    private readonly int featureCount;

    public ModelScorer(TrainedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        featureCount = model.FeatureCount;
        pool = new DefaultObjectPoolProvider { MaximumRetained = Math.Max(4, Environment.ProcessorCount * 2) }
            .Create(new SessionPolicy(model));

        // Build one engine now so a broken model fails here, not on the first request.
        pool.Return(pool.Get());
    }

    public TrainedModel Model { get; }

    /// <summary>The calibrated probability that the member likes the title.</summary>
    public float Score(ReadOnlySpan<float> features)
    {
        CheckLength(features.Length, 0);
        var session = pool.Get();
        try
        {
            return session.Score(features);
        }
        finally
        {
            pool.Return(session);
        }
    }

    /// <summary>Scores every row into <paramref name="scores"/> (same order, same length), with one pooled engine.</summary>
    public void ScoreBatch(IReadOnlyList<float[]> rows, Span<float> scores)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (scores.Length != rows.Count)
        {
            throw new ArgumentException($"{rows.Count} rows but {scores.Length} score slots.", nameof(scores));
        }

        for (var i = 0; i < rows.Count; i++)
        {
            CheckLength(rows[i]?.Length ?? -1, i);
        }

        var session = pool.Get();
        try
        {
            for (var i = 0; i < rows.Count; i++)
            {
                scores[i] = session.Score(rows[i]);
            }
        }
        finally
        {
            pool.Return(session);
        }
    }

    /// <summary>
    /// Scores rows laid out one after another in <paramref name="rows"/> (row i is
    /// rows[i * FeatureCount .. (i + 1) * FeatureCount]) into <paramref name="scores"/>, with one pooled engine.
    /// </summary>
    public void ScoreBatch(ReadOnlySpan<float> rows, Span<float> scores)
    {
        if (rows.Length != scores.Length * featureCount)
        {
            throw new ArgumentException($"{rows.Length} values are not {scores.Length} rows of {featureCount} features (model {Model.Manifest.Version}).", nameof(rows));
        }

        var session = pool.Get();
        try
        {
            for (var i = 0; i < scores.Length; i++)
            {
                scores[i] = session.Score(rows.Slice(i * featureCount, featureCount));
            }
        }
        finally
        {
            pool.Return(session);
        }
    }

    /// <summary>Features per row.</summary>
    public int FeatureCount => featureCount;

    public void Dispose() => (pool as IDisposable)?.Dispose();

    private void CheckLength(int length, int row)
    {
        if (length != featureCount)
        {
            throw new ArgumentException($"Row {row} has {length} features; model {Model.Manifest.Version} takes {featureCount}.");
        }
    }

    private sealed class Session(PredictionEngine<ScoringInput, ScoringOutput> engine, int featureCount) : IDisposable
    {
        private readonly ScoringInput input = new() { Features = new float[featureCount] };
        private ScoringOutput output = new();

        public float Score(ReadOnlySpan<float> features)
        {
            features.CopyTo(input.Features);
            engine.Predict(input, ref output);
            return output.Probability;
        }

        public void Dispose() => engine.Dispose();
    }

    private sealed class SessionPolicy(TrainedModel model) : PooledObjectPolicy<Session>
    {
        private readonly Microsoft.ML.Data.SchemaDefinition inputSchema = ModelRows.ScoringSchema(model.FeatureCount);

        private readonly Lock create = new();

        /// <summary>Engines are built one at a time: MLContext is not documented as thread-safe.</summary>
        public override Session Create()
        {
            lock (create)
            {
                return new(
                    model.Context.Model.CreatePredictionEngine<ScoringInput, ScoringOutput>(model.Transformer, ignoreMissingColumns: true, inputSchemaDefinition: inputSchema),
                    model.FeatureCount);
            }
        }

        public override bool Return(Session obj) => true;
    }
}
