using Serverless.Models;

namespace Serverless.Tests.Models;

/// <summary>
/// Synthetic "likes" with a known logistic ground truth over 8 features: P(like) = sigmoid(w.x + b),
/// x ~ N(0,1). The label really depends on the features, so a model that learns nothing fails the tests.
/// </summary>
public static class SyntheticData
{
    public const string ConfigHash = "cfg-sha256-0123456789abcdef";
    public static readonly IReadOnlyList<string> FeatureNames =
        ["member_like_rate", "title_like_rate", "title_popularity", "genre_affinity", "year_gap", "member_activity", "title_age", "noise"];

    private static readonly double[] Weights = [1.6, 1.2, 0.8, -0.9, -0.6, 0.5, 0.3, 0.0];
    private const double Bias = 0.1;

    public static List<TrainingExample> Examples(int count, int seed)
    {
        var random = new Random(seed);
        var result = new List<TrainingExample>(count);
        for (var n = 0; n < count; n++)
        {
            var x = new float[Weights.Length];
            var z = Bias;
            for (var i = 0; i < x.Length; i++)
            {
                x[i] = (float)Gaussian(random);
                z += Weights[i] * x[i];
            }

            result.Add(new TrainingExample(x, random.NextDouble() < 1 / (1 + Math.Exp(-z))));
        }

        return result;
    }

    public static List<float[]> Probe(int count, int seed) => Examples(count, seed).Select(e => e.Features).ToList();

    public static TrainingRequest Request(TrainerKind trainer, string version = "v1", IReadOnlyList<string>? names = null, string hash = ConfigHash, int seed = 42) => new()
    {
        FeatureNames = names ?? FeatureNames,
        FeatureConfigHash = hash,
        Train = Examples(5000, 1),
        Validation = Examples(2000, 2),
        Trainer = trainer,
        Version = version,
        TrainedFrom = new DateTimeOffset(2017, 1, 1, 0, 0, 0, TimeSpan.Zero),
        TrainedTo = new DateTimeOffset(2018, 1, 1, 0, 0, 0, TimeSpan.Zero),
        Lineage = ["datasets/ds-2018-01-01/train.jsonl"],
        Dependencies = ["title-stats@2018-01-01T00:00:00Z"],
        Seed = seed,
        CreatedAt = new DateTimeOffset(2018, 1, 2, 0, 0, 0, TimeSpan.Zero),
    };

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}

/// <summary>Models trained once per test run and shared (read-only: do not dispose them).</summary>
public static class SharedModels
{
    private static readonly Dictionary<TrainerKind, Lazy<TrainedModel>> Models = Enum.GetValues<TrainerKind>()
        .ToDictionary(k => k, k => new Lazy<TrainedModel>(() => ModelTrainer.Train(SyntheticData.Request(k, "shared-" + k))));

    public static TrainedModel Get(TrainerKind kind) => Models[kind].Value;

    public static byte[] Zip(TrainedModel model)
    {
        using var stream = new MemoryStream();
        model.Save(stream);
        return stream.ToArray();
    }

    public static TrainedModel Load(byte[] zip, ModelManifest manifest)
    {
        using var stream = new MemoryStream(zip);
        return TrainedModel.Load(stream, manifest);
    }
}
