using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Serverless.Access;
using Serverless.Models;
using Serverless.Requests;
using Serverless.Tests.Fixtures;
using Serverless.Tests.Models;
using Serverless.Workflows;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Tests.Workflows;

/// <summary>
/// A person's decision at the approval gate (TrainPipelineInstances.DecideAsync) without HTTP: the
/// in-process Durable Task host, the real publish and reject activities, an Azurite registry. Only
/// training (a ready-made candidate, registered once the test lets it) and validation (passed) are
/// stand-ins.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class TrainPipelineDecisionTests(AzuriteFixture azurite)
{
    private static readonly OperatorIdentity Ada = new("Ada Approver", "ada00000-0000-0000-0000-000000000001");
    private static readonly OperatorIdentity Bert = new("Bert Approver", "bert0000-0000-0000-0000-000000000002");
    private static readonly TrainPipelineRequest Request = new(TrainerKind.LightGbm, false, TimeSpan.FromHours(1), "test");

    /// <summary>Registers the candidate once <paramref name="release"/> completes (so a test can decide while it still trains).</summary>
    private sealed class HeldTrainer(ModelRegistry registry, string version, Task release) : TaskActivity<TrainPipelineRequest, TrainedCandidate>
    {
        public override async Task<TrainedCandidate> RunAsync(TaskActivityContext context, TrainPipelineRequest input)
        {
            await release;
            await registry.RegisterAsync(SharedModels.Get(TrainerKind.LogisticRegression).Manifest with { Version = version }, input.RequestedBy);
            return new TrainedCandidate(version, true, "passed", new Dictionary<string, double> { ["auc"] = 0.8 });
        }
    }

    private async Task<(DurableTaskTestHost Host, ModelRegistry Registry)> StartAsync(string version, Task release)
    {
        var prefix = azurite.NewPrefix();
        var registry = new ModelRegistry(azurite.Tables(), prefix);
        await registry.EnsureCreatedAsync();
        var alerts = new Serverless.Sentinel.SentinelAlerts(azurite.Tables(), prefix);
        await alerts.EnsureCreatedAsync();
        var host = await InProcessDurableHost.StartAsync(tasks =>
        {
            tasks.AddOrchestrator<TrainPipelineOrchestrator>();
            tasks.AddActivity(TaskNames.TrainCandidate, new HeldTrainer(registry, version, release));
            tasks.AddActivity(TaskNames.ValidateCandidate, new ScriptedValidator(registry, passes: true));
            tasks.AddActivity(new PublishModelActivity(registry));
            tasks.AddActivity(new RejectModelActivity(registry, alerts));
        });
        return (host, registry);
    }

    private static async Task WaitForGateAsync(DurableTaskClient client, string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        Assert.False((await TrainPipelineInstances.WaitForApprovalGateAsync(client, id, timeout.Token))!.IsCompleted);
    }

    private static async Task<TrainPipelineResult> ResultAsync(DurableTaskClient client, string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        return (await client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token)).ReadOutputAs<TrainPipelineResult>()!;
    }

    [Fact]
    public async Task A_decision_is_refused_until_the_gate_then_delivered_once_with_who_made_it()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (host, registry) = await StartAsync("decide-1", release.Task);
        await using var _ = host;
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request);

        // Still training: a conflict naming the stage, and no claim was made (the decision can come later).
        var early = await Assert.ThrowsAsync<RequestRefusedException>(() => TrainPipelineInstances.DecideAsync(host.Client, registry, id, Ada, new ApprovalRequest(true, null)));
        Assert.Equal(409, early.Status);
        Assert.Contains("is not awaiting approval", early.Message, StringComparison.Ordinal);

        release.SetResult();
        await WaitForGateAsync(host.Client, id);
        var state = await TrainPipelineInstances.StatusAsync(host.Client, id);
        Assert.Equal(("Running", TrainPipelineOrchestrator.StageAwaitingApproval), (state.Status, state.Progress?.Stage));

        var accepted = await TrainPipelineInstances.DecideAsync(host.Client, registry, id, Ada, new ApprovalRequest(true, "metrics fine"));
        Assert.Equal(new ApprovalAccepted(id, true, Ada.Name, Ada.ObjectId), accepted);

        // A second decision (another approver, the other way) is refused: the claim or the stage says so.
        var second = await Assert.ThrowsAsync<RequestRefusedException>(() => TrainPipelineInstances.DecideAsync(host.Client, registry, id, Bert, new ApprovalRequest(false, "no")));
        Assert.Equal(409, second.Status);

        Assert.Equal(PipelineOutcome.Published, (await ResultAsync(host.Client, id)).Outcome);
        Assert.Equal("decide-1", (await registry.GetLiveAsync())!.Version);
        var approved = Assert.Single(await registry.GetStatusHistoryAsync("decide-1"), h => h.Status == ModelStatus.Approved);
        Assert.Equal((Ada.Name, Ada.ObjectId), (approved.By, approved.ByObjectId));
        Assert.Contains("metrics fine", approved.Reason, StringComparison.Ordinal);
        var done = await TrainPipelineInstances.StatusAsync(host.Client, id);
        Assert.Equal(("Completed", PipelineOutcome.Published), (done.Status, done.Result?.Outcome));
    }

    [Fact]
    public async Task Two_decisions_at_the_gate_at_once_deliver_one()
    {
        var (host, registry) = await StartAsync("decide-2", Task.CompletedTask);
        await using var _ = host;
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request);
        await WaitForGateAsync(host.Client, id);

        var decisions = await Task.WhenAll(
            Outcome(TrainPipelineInstances.DecideAsync(host.Client, registry, id, Ada, new ApprovalRequest(false, "first"))),
            Outcome(TrainPipelineInstances.DecideAsync(host.Client, registry, id, Bert, new ApprovalRequest(true, "second"))));
        Assert.Single(decisions, d => d.Accepted is not null);
        var refused = Assert.Single(decisions, d => d.Refused is not null).Refused!;
        Assert.Equal(409, refused.Status);
        var winner = decisions.Single(d => d.Accepted is not null).Accepted!;
        Assert.Contains($"by {winner.By}; one decision counts", refused.Message, StringComparison.Ordinal);

        var result = await ResultAsync(host.Client, id);
        Assert.Equal(winner.Approve ? PipelineOutcome.Published : PipelineOutcome.RejectedByApprover, result.Outcome);
        Assert.Single(await registry.GetStatusHistoryAsync("decide-2"), h => h.Status is ModelStatus.Approved or ModelStatus.Rejected);

        static async Task<(ApprovalAccepted? Accepted, RequestRefusedException? Refused)> Outcome(Task<ApprovalAccepted> decision)
        {
            try
            {
                return (await decision, null);
            }
            catch (RequestRefusedException refused)
            {
                return (null, refused);
            }
        }
    }

    [Theory]
    [InlineData("no-such-pipeline", true, 404, "no training pipeline 'no-such-pipeline'")]
    [InlineData("a/b", true, 400, "id")]
    [InlineData("no-such-pipeline", null, 400, "a body {\"approve\": true|false")]
    public async Task Bad_decisions_are_refused_with_what_is_wrong(string id, bool? approve, int status, string detail)
    {
        var (host, registry) = await StartAsync("decide-3", Task.CompletedTask);
        await using var _ = host;
        var refused = await Assert.ThrowsAsync<RequestRefusedException>(() => TrainPipelineInstances.DecideAsync(host.Client, registry, id, Ada, new ApprovalRequest(approve, null)));
        Assert.Equal(status, refused.Status);
        Assert.Contains(detail, refused.Message, StringComparison.Ordinal);
    }
}
