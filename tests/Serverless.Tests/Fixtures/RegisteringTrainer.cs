using Microsoft.DurableTask;
using Serverless.Models;
using Serverless.Tests.Models;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Tests.Fixtures;

/// <summary>
/// The pipeline's training step for tests on the in-process Durable host: instead of training, it
/// registers a ready-made candidate (as the training job registers what it trained; the test stores
/// the artifact beforehand when the validation step is to load it) and reports the basic Sentinel's
/// verdict it was told to. <paramref name="candidate"/> chooses the candidate for a pipeline's request.
/// </summary>
public sealed class RegisteringTrainer(ModelRegistry registry, Func<TrainPipelineRequest, ModelManifest> candidate, bool sentinelPassed = true) : TaskActivity<TrainPipelineRequest, TrainedCandidate>
{
    /// <summary>
    /// A shared logistic-regression manifest registered as <paramref name="version"/> (with the
    /// pipeline's suffix appended, and recorded in <paramref name="suffixes"/>, when that list is given).
    /// </summary>
    public static RegisteringTrainer Named(ModelRegistry registry, string version, bool sentinelPassed, List<string?>? suffixes = null) =>
        new(registry, input =>
        {
            if (suffixes is null)
            {
                return SharedModels.Get(TrainerKind.LogisticRegression).Manifest with { Version = version };
            }

            lock (suffixes)
            {
                suffixes.Add(input.VersionSuffix);
            }

            return SharedModels.Get(TrainerKind.LogisticRegression).Manifest with { Version = $"{version}-{input.VersionSuffix}" };
        }, sentinelPassed);

    public override async Task<TrainedCandidate> RunAsync(TaskActivityContext context, TrainPipelineRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var manifest = candidate(input);
        await registry.RegisterAsync(manifest, input.RequestedBy);
        if (!sentinelPassed)
        {
            await registry.SetStatusAsync(manifest.Version, ModelStatus.Rejected, "sentinel: probe-scores-valid NaN");
        }

        return new TrainedCandidate(manifest.Version, sentinelPassed, sentinelPassed ? "passed" : "probe-scores-valid: NaN", manifest.Metrics);
    }
}
