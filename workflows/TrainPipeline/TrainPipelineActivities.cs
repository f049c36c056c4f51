using Microsoft.DurableTask;
using Serverless.Models;
using Serverless.Training;

namespace Serverless.Workflows.TrainPipeline;

/// <summary>
/// Trains a candidate with the training job (snapshot, training set with the serving encoder, ML.NET,
/// Sentinel, store, register) without publishing it. The model travels as a version id, never as bytes.
/// </summary>
public sealed class TrainCandidateActivity(TrainingJob training) : TaskActivity<TrainPipelineRequest, TrainedCandidate>
{
    public override async Task<TrainedCandidate> RunAsync(TaskActivityContext context, TrainPipelineRequest input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var result = await training.RunAsync(new TrainingJobRequest(input.Trainer, null, Publish: false, FromLoggedFeatures: input.FromLoggedFeatures));
        return new TrainedCandidate(result.Manifest.Version, result.Sentinel.Passed, result.Sentinel.ToString(), result.Manifest.Metrics);
    }
}

/// <summary>Marks the candidate Approved and points "live" at it, expecting whatever is live now (ETag-guarded).</summary>
public sealed class PublishModelActivity(ModelRegistry registry) : TaskActivity<ModelDecision, PublishOutcome>
{
    public override async Task<PublishOutcome> RunAsync(TaskActivityContext context, ModelDecision input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var record = await registry.GetAsync(input.Version) ?? throw new ModelNotFoundException($"Model version '{input.Version}' is not registered.");
        if (record.Status == ModelStatus.Live)
        {
            // A retry after a publish that went through: done already.
            return new PublishOutcome(input.Version, (await registry.GetLiveAsync())?.Previous);
        }

        if (record.Status != ModelStatus.Approved)
        {
            await registry.SetStatusAsync(input.Version, ModelStatus.Approved, input.Reason);
        }

        var live = await registry.GetLiveAsync();
        var change = await registry.PublishAsync(input.Version, live?.Version, input.Reason);
        return new PublishOutcome(input.Version, change.From);
    }
}

/// <summary>Marks the candidate Rejected with the reason (a person's, or the approval timeout).</summary>
public sealed class RejectModelActivity(ModelRegistry registry) : TaskActivity<ModelDecision, bool>
{
    public override async Task<bool> RunAsync(TaskActivityContext context, ModelDecision input)
    {
        ArgumentNullException.ThrowIfNull(input);
        await registry.SetStatusAsync(input.Version, ModelStatus.Rejected, input.Reason);
        return true;
    }
}
