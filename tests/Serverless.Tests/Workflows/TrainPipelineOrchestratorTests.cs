using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.Time.Testing;
using Serverless.Models;
using Serverless.Tests.Fixtures;
using Serverless.Tests.Models;
using Serverless.Workflows;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Tests.Workflows;

/// <summary>
/// The pipeline's decisions on the in-process Durable Task host (real replay, timers and events),
/// with the real publish and reject activities on an Azurite registry. Only training is replaced:
/// it registers a ready-made candidate instead of training one (the real one runs end to end over HTTP).
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class TrainPipelineOrchestratorTests(AzuriteFixture azurite)
{
    private static readonly TrainPipelineRequest Request = new(TrainerKind.LightGbm, false, TimeSpan.FromMinutes(5), "test");

    /// <summary>Registers a candidate (as the training job does) and reports the Sentinel's verdict it was told to.</summary>
    private sealed class RegisteringTrainer(ModelRegistry registry, string version, bool sentinelPassed) : TaskActivity<TrainPipelineRequest, TrainedCandidate>
    {
        public override async Task<TrainedCandidate> RunAsync(TaskActivityContext context, TrainPipelineRequest input)
        {
            await registry.RegisterAsync(SharedModels.Get(TrainerKind.LogisticRegression).Manifest with { Version = version });
            if (!sentinelPassed)
            {
                await registry.SetStatusAsync(version, ModelStatus.Rejected, "sentinel: probe-scores-valid NaN");
            }

            return new TrainedCandidate(version, sentinelPassed, sentinelPassed ? "passed" : "probe-scores-valid: NaN", new Dictionary<string, double> { ["auc"] = 0.8 });
        }
    }

    private async Task<(DurableTaskTestHost Host, ModelRegistry Registry)> StartAsync(string version, bool sentinelPassed, string? liveBefore = null)
    {
        var registry = new ModelRegistry(azurite.Tables(), azurite.NewPrefix(), new FakeTimeProvider(new DateTimeOffset(2018, 2, 1, 0, 0, 0, TimeSpan.Zero)));
        await registry.EnsureCreatedAsync();
        if (liveBefore is not null)
        {
            await registry.RegisterAsync(SharedModels.Get(TrainerKind.LogisticRegression).Manifest with { Version = liveBefore });
            await registry.SetStatusAsync(liveBefore, ModelStatus.Approved, "setup");
            await registry.PublishAsync(liveBefore, null, "setup");
        }

        var host = await DurableTaskTestHost.StartAsync(tasks =>
        {
            tasks.AddOrchestrator<TrainPipelineOrchestrator>();
            tasks.AddActivity(TaskNames.TrainCandidate, new RegisteringTrainer(registry, version, sentinelPassed));
            tasks.AddActivity(new PublishModelActivity(registry));
            tasks.AddActivity(new RejectModelActivity(registry));
        });
        return (host, registry);
    }

    private static async Task<TrainPipelineStatus?> WaitForApprovalGateAsync(DurableTaskClient client, string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        return TrainPipelineInstances.Progress(await TrainPipelineInstances.WaitForApprovalGateAsync(client, id, timeout.Token));
    }

    private static async Task<TrainPipelineResult> ResultAsync(DurableTaskClient client, string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var done = await client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
        return done.ReadOutputAs<TrainPipelineResult>()!;
    }

    [Fact]
    public async Task An_approved_candidate_is_published_over_the_live_model()
    {
        var (host, registry) = await StartAsync("cand-1", sentinelPassed: true, liveBefore: "old-1");
        await using var _ = host;
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request);

        var waiting = await WaitForApprovalGateAsync(host.Client, id);
        Assert.Equal("cand-1", waiting!.Candidate!.Version);
        Assert.NotNull(waiting.ApprovalDeadline);
        Assert.Equal(ModelStatus.Candidate, (await registry.GetAsync("cand-1"))!.Status);
        Assert.Equal("old-1", (await registry.GetLiveAsync())!.Version);

        await host.Client.RaiseEventAsync(id, TrainPipelineOrchestrator.ApprovalEvent, new ApprovalDecision(true, "alice", "offline metrics fine"));
        var result = await ResultAsync(host.Client, id);

        Assert.Equal(PipelineOutcome.Published, result.Outcome);
        Assert.Equal("old-1", result.Replaced);
        Assert.Equal("cand-1", (await registry.GetLiveAsync())!.Version);
        Assert.Equal(ModelStatus.Retired, (await registry.GetAsync("old-1"))!.Status);
        Assert.Contains("approved by alice", (await registry.GetHistoryAsync())[^1].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rejected_candidate_never_goes_live()
    {
        var (host, registry) = await StartAsync("cand-2", sentinelPassed: true, liveBefore: "old-2");
        await using var _ = host;
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request);
        await WaitForApprovalGateAsync(host.Client, id);

        await host.Client.RaiseEventAsync(id, TrainPipelineOrchestrator.ApprovalEvent, new ApprovalDecision(false, "bob", "calibration drifted"));
        var result = await ResultAsync(host.Client, id);

        Assert.Equal(PipelineOutcome.RejectedByApprover, result.Outcome);
        Assert.Contains("rejected by bob: calibration drifted", result.Reason, StringComparison.Ordinal);
        Assert.Equal("old-2", (await registry.GetLiveAsync())!.Version);
        var record = (await registry.GetAsync("cand-2"))!;
        Assert.Equal(ModelStatus.Rejected, record.Status);
    }

    [Fact]
    public async Task No_decision_before_the_deadline_rejects_the_candidate()
    {
        var (host, registry) = await StartAsync("cand-3", sentinelPassed: true);
        await using var _ = host;
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request);
        var waiting = await WaitForApprovalGateAsync(host.Client, id);

        // Before the deadline the enforcer leaves it alone; after it, it times the pipeline out.
        Assert.Empty(await ApprovalDeadlines.EnforceAsync(host.Client, waiting!.ApprovalDeadline!.Value.AddSeconds(-1)));
        Assert.Equal([id], await ApprovalDeadlines.EnforceAsync(host.Client, waiting.ApprovalDeadline.Value.AddSeconds(1)));
        var result = await ResultAsync(host.Client, id);

        Assert.Equal(PipelineOutcome.ApprovalTimedOut, result.Outcome);
        Assert.Equal(ModelStatus.Rejected, (await registry.GetAsync("cand-3"))!.Status);
        Assert.Null(await registry.GetLiveAsync());
        Assert.Empty(await ApprovalDeadlines.EnforceAsync(host.Client, DateTime.UtcNow.AddDays(1)));
    }

    [Fact]
    public async Task An_approval_after_the_deadline_counts_as_timed_out()
    {
        var (host, registry) = await StartAsync("cand-5", sentinelPassed: true, liveBefore: "old-5");
        await using var _ = host;
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request with { ApprovalTimeout = TimeSpan.FromSeconds(1) });
        await WaitForApprovalGateAsync(host.Client, id);
        await Task.Delay(1500);

        await host.Client.RaiseEventAsync(id, TrainPipelineOrchestrator.ApprovalEvent, new ApprovalDecision(true, "late-larry", null));
        var result = await ResultAsync(host.Client, id);

        Assert.Equal(PipelineOutcome.ApprovalTimedOut, result.Outcome);
        Assert.Contains("late-larry decided after the deadline", result.Reason, StringComparison.Ordinal);
        Assert.Equal("old-5", (await registry.GetLiveAsync())!.Version);
    }

    [Fact]
    public async Task A_candidate_the_Sentinel_refuses_never_waits_for_approval()
    {
        var (host, registry) = await StartAsync("cand-4", sentinelPassed: false, liveBefore: "old-4");
        await using var _ = host;
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request);

        var result = await ResultAsync(host.Client, id);

        Assert.Equal(PipelineOutcome.RejectedBySentinel, result.Outcome);
        Assert.Contains("NaN", result.Reason, StringComparison.Ordinal);
        Assert.Equal(ModelStatus.Rejected, (await registry.GetAsync("cand-4"))!.Status);
        Assert.Equal("old-4", (await registry.GetLiveAsync())!.Version);
    }
}
