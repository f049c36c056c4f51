using Microsoft.Extensions.DependencyInjection;
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

    /// <summary>The alerts table of the registry <see cref="StartAsync"/> made.</summary>
    private Serverless.Sentinel.SentinelAlerts alerts = null!;

    /// <summary>
    /// Someone else's change landing between two steps: runs <paramref name="intervene"/> once, just before
    /// the <paramref name="nth"/> request <paramref name="matches"/> goes to storage (real requests, real Azurite).
    /// </summary>
    private sealed class InterveningPolicy(Func<Azure.Core.HttpMessage, bool> matches, int nth, Func<Task> intervene) : Azure.Core.Pipeline.HttpPipelinePolicy
    {
        private int seen;

        public bool Intervened { get; private set; }

        public override async ValueTask ProcessAsync(Azure.Core.HttpMessage message, ReadOnlyMemory<Azure.Core.Pipeline.HttpPipelinePolicy> pipeline)
        {
            if (matches(message) && Interlocked.Increment(ref seen) == nth)
            {
                await intervene();
                Intervened = true;
            }

            await ProcessNextAsync(message, pipeline);
        }

        public override void Process(Azure.Core.HttpMessage message, ReadOnlyMemory<Azure.Core.Pipeline.HttpPipelinePolicy> pipeline) =>
            throw new NotSupportedException("the registry is asynchronous");
    }

    private async Task<(DurableTaskTestHost Host, ModelRegistry Registry)> StartAsync(string version, bool sentinelPassed, string? liveBefore = null, bool validationPasses = true, List<string?>? suffixes = null,
        Func<string, ModelRegistry>? publishingRegistry = null)
    {
        // The system clock: status history rows are ordered by time.
        var prefix = azurite.NewPrefix();
        var registry = new ModelRegistry(azurite.Tables(), prefix);
        await registry.EnsureCreatedAsync();
        alerts = new Serverless.Sentinel.SentinelAlerts(azurite.Tables(), prefix);
        await alerts.EnsureCreatedAsync();
        if (liveBefore is not null)
        {
            await registry.RegisterAsync(SharedModels.Get(TrainerKind.LogisticRegression).Manifest with { Version = liveBefore });
            await registry.SetStatusAsync(liveBefore, ModelStatus.Approved, "setup");
            await registry.PublishAsync(liveBefore, null, "setup");
        }

        var host = await InProcessDurableHost.StartAsync(tasks =>
        {
            tasks.AddOrchestrator<TrainPipelineOrchestrator>();
            tasks.AddActivity(TaskNames.TrainCandidate, RegisteringTrainer.Named(registry, version, sentinelPassed, suffixes));
            tasks.AddActivity(TaskNames.ValidateCandidate, new ScriptedValidator(registry, validationPasses));
            tasks.AddActivity(new PublishModelActivity(publishingRegistry?.Invoke(prefix) ?? registry));
            tasks.AddActivity(new RejectModelActivity(registry, alerts));
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
        Assert.Equal(TrainPipelineOrchestrator.StageRejected, await StageAsync(host.Client, id));   // not "awaiting-approval" (issue 10, item 8)
        Assert.Equal("bob", (await registry.GetStatusHistoryAsync("cand-2"))[^1].By);
        Assert.Equal(Serverless.Sentinel.AlertKinds.CandidateRejected, Assert.Single(await alerts.ListAsync(version: "cand-2")).Kind);
    }

    [Fact]
    public async Task An_approval_before_the_deadline_completes_at_once_on_the_durable_timer_gate()
    {
        var (host, registry) = await StartAsync("cand-6", sentinelPassed: true);
        await using var _ = host;
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request with { ApprovalTimeout = TimeSpan.FromHours(1) });
        await WaitForApprovalGateAsync(host.Client, id);

        var decided = System.Diagnostics.Stopwatch.StartNew();
        await host.Client.RaiseEventAsync(id, TrainPipelineOrchestrator.ApprovalEvent, new ApprovalDecision(true, "alice", null));
        var result = await ResultAsync(host.Client, id);

        // The event wins the race with a timer an hour away; the timer is cancelled, so nothing lingers.
        Assert.Equal(PipelineOutcome.Published, result.Outcome);
        Assert.True(decided.Elapsed < TimeSpan.FromSeconds(30), $"took {decided.Elapsed}");
        Assert.Equal("cand-6", (await registry.GetLiveAsync())!.Version);
        Assert.Equal(TrainPipelineOrchestrator.StagePublished, await StageAsync(host.Client, id));
        var history = await registry.GetStatusHistoryAsync("cand-6");
        Assert.Equal([ModelStatus.Candidate, ModelStatus.Approved, ModelStatus.Live], history.Select(h => h.Status));
        Assert.Equal("test", history[0].By);   // the pipeline's RequestedBy, not "training"
        Assert.Equal("alice", history[1].By);
        Assert.Empty(await alerts.ListAsync(version: "cand-6"));
    }

    [Fact]
    public async Task A_double_click_records_one_decision_and_the_second_is_a_409()
    {
        var (host, registry) = await StartAsync("cand-9", sentinelPassed: true, liveBefore: "old-9");
        await using var _ = host;
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request with { ApprovalTimeout = TimeSpan.FromHours(1) });
        await WaitForApprovalGateAsync(host.Client, id);

        // Both clicks arrive while the pipeline awaits approval: one decision counts, the other is refused naming it.
        var clicks = await Task.WhenAll(
            ApproveOverFunctionAsync(host.Client, registry, id, """{"approve":true}"""),
            ApproveOverFunctionAsync(host.Client, registry, id, """{"approve":false,"reason":"second click"}"""));
        Assert.Equal([202, 409], clicks.Select(c => c.StatusCode ?? 0).Order());
        var refused = Assert.IsType<Microsoft.AspNetCore.Mvc.ProblemDetails>(clicks.Single(c => c.StatusCode == 409).Value);
        Assert.True(refused.Detail!.Contains("by Late Larry; one decision counts", StringComparison.Ordinal) || refused.Detail.Contains("is not awaiting approval", StringComparison.Ordinal), refused.Detail);

        var result = await ResultAsync(host.Client, id);
        Assert.Contains(result.Outcome, new[] { PipelineOutcome.Published, PipelineOutcome.RejectedByApprover });
        var decision = Assert.Single(await registry.GetStatusHistoryAsync("cand-9"), h => h.By == "Late Larry");
        Assert.Equal("0b0b0b0b-0000-0000-0000-000000000005", decision.ByObjectId);
        Assert.Equal(result.Outcome == PipelineOutcome.Published ? ModelStatus.Approved : ModelStatus.Rejected, decision.Status);

        // The claim itself: whoever comes second is refused, naming the first.
        var again = await Assert.ThrowsAsync<Serverless.Requests.RequestRefusedException>(() => registry.ClaimDecisionAsync(id, new Serverless.Access.OperatorIdentity("Other Approver", "o-2"), false));
        Assert.Equal(409, again.Status);
        Assert.Contains("by Late Larry", again.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_decision_before_the_deadline_rejects_the_candidate()
    {
        var (host, registry) = await StartAsync("cand-3", sentinelPassed: true);
        await using var _ = host;
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request with { ApprovalTimeout = TimeSpan.FromSeconds(2) });
        await WaitForApprovalGateAsync(host.Client, id);

        // No scan, no timer function: the durable timer alone ends the wait.
        var result = await ResultAsync(host.Client, id);

        Assert.Equal(PipelineOutcome.ApprovalTimedOut, result.Outcome);
        Assert.Equal(ModelStatus.Rejected, (await registry.GetAsync("cand-3"))!.Status);
        Assert.Null(await registry.GetLiveAsync());
        Assert.Equal(TrainPipelineOrchestrator.StageRejected, await StageAsync(host.Client, id));
        Assert.Equal("approval deadline", (await registry.GetStatusHistoryAsync("cand-3"))[^1].By);
        var expired = Assert.Single(await alerts.ListAsync(version: "cand-3"));
        Assert.Equal(Serverless.Sentinel.AlertKinds.CandidateExpired, expired.Kind);
        Assert.Contains("approval timed out", expired.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_decision_after_the_deadline_is_refused_with_409()
    {
        var (host, registry) = await StartAsync("cand-5", sentinelPassed: true, liveBefore: "old-5");
        await using var _ = host;
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request with { ApprovalTimeout = TimeSpan.FromSeconds(1) });
        Assert.Equal(PipelineOutcome.ApprovalTimedOut, (await ResultAsync(host.Client, id)).Outcome);

        var late = await ApproveOverFunctionAsync(host.Client, registry, id, """{"approve":true,"reason":"late"}""");

        Assert.Equal(409, late.StatusCode);
        Assert.Equal("old-5", (await registry.GetLiveAsync())!.Version);
        Assert.Equal(ModelStatus.Rejected, (await registry.GetAsync("cand-5"))!.Status);
    }

    [Fact]
    public async Task The_orchestrator_checks_its_own_input_before_training()
    {
        var (host, registry) = await StartAsync("cand-7", sentinelPassed: true);
        await using var _ = host;

        var none = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline);
        var outOfRange = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request with { ApprovalTimeout = TimeSpan.FromDays(90) });
        var noTimeout = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request with { ApprovalTimeout = TimeSpan.Zero });

        Assert.Equal(PipelineOutcome.InvalidInput, (await ResultAsync(host.Client, none)).Outcome);
        var refused = await ResultAsync(host.Client, outOfRange);
        Assert.Equal(PipelineOutcome.InvalidInput, refused.Outcome);
        Assert.Contains("approvalTimeout", refused.Reason, StringComparison.Ordinal);
        Assert.Null(refused.Version);
        Assert.Equal(TrainPipelineOrchestrator.StageInvalidInput, await StageAsync(host.Client, outOfRange));

        // A missing timeout gets the default (3 days): the gate's deadline says so.
        var waiting = await WaitForApprovalGateAsync(host.Client, noTimeout);
        Assert.True(waiting!.ApprovalDeadline > DateTime.UtcNow.AddDays(2.9));
        Assert.Single(await registry.ListAsync());   // only the valid one trained
    }

    [Fact]
    public async Task Two_pipelines_started_together_train_distinct_versions()
    {
        var suffixes = new List<string?>();
        var (host, registry) = await StartAsync("cand-8", sentinelPassed: true, suffixes: suffixes);
        await using var _ = host;
        var a = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request);
        var b = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request);
        await WaitForApprovalGateAsync(host.Client, a);
        await WaitForApprovalGateAsync(host.Client, b);

        Assert.Equal(2, suffixes.Where(s => s is { Length: 8 }).Distinct().Count());
        Assert.Equal(2, (await registry.ListAsync()).Count);
    }

    [Fact]
    public async Task A_candidate_the_validation_step_refuses_never_waits_for_approval()
    {
        var (host, registry) = await StartAsync("cand-9", sentinelPassed: true, liveBefore: "old-9", validationPasses: false);
        await using var _ = host;
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request);

        var result = await ResultAsync(host.Client, id);

        Assert.Equal(PipelineOutcome.RejectedBySentinel, result.Outcome);
        Assert.Contains("shadow-accuracy", result.Reason, StringComparison.Ordinal);
        Assert.Equal(ModelStatus.Rejected, (await registry.GetAsync("cand-9"))!.Status);
        Assert.Equal(TrainPipelineOrchestrator.StageRejected, await StageAsync(host.Client, id));
        Assert.Equal("old-9", (await registry.GetLiveAsync())!.Version);
    }

    [Fact]
    public async Task Publishing_refuses_a_candidate_rejected_since_or_never_validated()
    {
        var registry = new ModelRegistry(azurite.Tables(), azurite.NewPrefix());
        await registry.EnsureCreatedAsync();
        var manifest = SharedModels.Get(TrainerKind.LogisticRegression).Manifest;
        await registry.RegisterAsync(manifest with { Version = "never-checked" });
        await registry.RegisterAsync(manifest with { Version = "rejected-since" });
        await registry.RecordSentinelAsync("rejected-since", true, "passed");
        await registry.SetStatusAsync("rejected-since", ModelStatus.Rejected, "changed my mind", "carol");
        var publish = new PublishModelActivity(registry);

        await Assert.ThrowsAsync<ModelStatusConflictException>(() => publish.RunAsync(null!, new ModelDecision("never-checked", "approved")));
        var rejected = await Assert.ThrowsAsync<ModelStatusConflictException>(() => publish.RunAsync(null!, new ModelDecision("rejected-since", "approved")));
        Assert.Contains("Rejected", rejected.Message, StringComparison.Ordinal);
        Assert.Contains("changed my mind", rejected.Message, StringComparison.Ordinal);
        Assert.Null(await registry.GetLiveAsync());
        Assert.Equal("carol", (await registry.GetStatusHistoryAsync("rejected-since"))[^1].By);
    }

    [Theory]
    [InlineData("after the publish step read the candidate, before it wrote the approval", false, 2)]
    [InlineData("between the approval's read and its write", true, 1)]
    [InlineData("after the approval was written, before the publish read it", false, 3)]
    public async Task A_rejection_landing_while_an_approved_candidate_is_published_wins_and_the_pipeline_says_so(string window, bool inTransaction, int nth)
    {
        // The publish activity's storage requests go through a policy that lets "carol" reject the
        // candidate (through her own client) just before the chosen request.
        InterveningPolicy? policy = null;
        var (host, registry) = await StartAsync("cand-race", sentinelPassed: true, liveBefore: "old-race", publishingRegistry: prefix =>
        {
            var carol = new ModelRegistry(azurite.Tables(), prefix);
            policy = new InterveningPolicy(
                m => inTransaction
                    ? m.Request.Method == Azure.Core.RequestMethod.Post && m.Request.Uri.Path.EndsWith("$batch", StringComparison.Ordinal)
                    : m.Request.Method == Azure.Core.RequestMethod.Get && Uri.UnescapeDataString(m.Request.Uri.ToString()).Contains("RowKey='version:cand-race'", StringComparison.Ordinal),
                nth,
                () => carol.SetStatusAsync("cand-race", ModelStatus.Rejected, "changed my mind", "carol"));
            var options = new Azure.Data.Tables.TableClientOptions();
            options.AddPolicy(policy, Azure.Core.HttpPipelinePosition.PerCall);
            return new ModelRegistry(new Azure.Data.Tables.TableServiceClient(azurite.ConnectionString, options), prefix);
        });
        await using var _ = host;
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request);
        await WaitForApprovalGateAsync(host.Client, id);

        await host.Client.RaiseEventAsync(id, TrainPipelineOrchestrator.ApprovalEvent, new ApprovalDecision(true, "alice", "looks good"));
        var result = await ResultAsync(host.Client, id);

        Assert.True(policy!.Intervened, window);
        Assert.Equal(PipelineOutcome.PublishRefused, result.Outcome);
        Assert.Contains("Rejected", result.Reason, StringComparison.Ordinal);
        Assert.Contains("changed my mind", result.Reason, StringComparison.Ordinal);
        Assert.Equal("old-race", (await registry.GetLiveAsync())!.Version);
        Assert.Equal(ModelStatus.Rejected, (await registry.GetAsync("cand-race"))!.Status);
        var last = (await registry.GetStatusHistoryAsync("cand-race"))[^1];
        Assert.Equal((ModelStatus.Rejected, "carol"), (last.Status, last.By));
        Assert.DoesNotContain(await registry.GetHistoryAsync(), h => h.To == "cand-race");
        Assert.Equal(TrainPipelineOrchestrator.StageRejected, await StageAsync(host.Client, id));
    }

    private static async Task<string?> StageAsync(DurableTaskClient client, string id) =>
        TrainPipelineInstances.Progress(await client.GetInstanceAsync(id, getInputsAndOutputs: true))?.Stage;

    /// <summary>The approval HTTP function itself, on a request built in memory, against the in-process host's client.</summary>
    private static async Task<Microsoft.AspNetCore.Mvc.ObjectResult> ApproveOverFunctionAsync(DurableTaskClient client, ModelRegistry registry, string id, string json)
    {
        var http = new Microsoft.AspNetCore.Http.DefaultHttpContext
        {
            // As the local host: it sets the client principal itself, so the header is believed.
            RequestServices = new Microsoft.Extensions.DependencyInjection.ServiceCollection().AddSingleton(Serverless.Access.ClientPrincipalTrust.Local).BuildServiceProvider(),
        };
        http.Request.Method = "POST";
        http.Request.ContentType = "application/json";
        http.Request.Body = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json));
        http.Request.ContentLength = http.Request.Body.Length;
        http.Request.Headers[Serverless.Access.ClientPrincipal.Header] = new Serverless.Access.ClientPrincipal("aad", "Late Larry", "0b0b0b0b-0000-0000-0000-000000000005", [Serverless.Access.OperatorRoles.Approver]).Encode();
        var result = await new Serverless.Functions.Models.TrainPipelineFunctions(registry).Approval(http.Request, id, client);
        return Assert.IsAssignableFrom<Microsoft.AspNetCore.Mvc.ObjectResult>(result);
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
