using Azure.Data.Tables;
using Microsoft.Extensions.Time.Testing;
using Serverless.Models;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Models;

[Collection(AzuriteCollection.Name)]
public sealed class ModelRegistryTests(AzuriteFixture azurite)
{
    private readonly FakeTimeProvider clock = new(new DateTimeOffset(2018, 2, 1, 0, 0, 0, TimeSpan.Zero));

    private async Task<ModelRegistry> NewRegistryAsync()
    {
        var registry = new ModelRegistry(azurite.Tables(), azurite.NewPrefix(), clock);
        await registry.EnsureCreatedAsync();
        return registry;
    }

    private static ModelManifest Manifest(string version) => SharedModels.Get(TrainerKind.LogisticRegression).Manifest with { Version = version };

    private static async Task RegisterApprovedAsync(ModelRegistry registry, params string[] versions)
    {
        foreach (var v in versions)
        {
            await registry.RegisterAsync(Manifest(v));
            await registry.SetStatusAsync(v, ModelStatus.Approved, "sentinel passed; approved by test");
        }
    }

    [Fact]
    public async Task Register_records_a_candidate_with_the_manifest_summary_once()
    {
        var registry = await NewRegistryAsync();
        var record = await registry.RegisterAsync(Manifest("v1"));

        Assert.Equal(ModelStatus.Candidate, record.Status);
        var read = await registry.GetAsync("v1");
        Assert.NotNull(read);
        Assert.Equal(ModelStatus.Candidate, read.Status);
        Assert.Equal(TrainerKind.LogisticRegression, read.Trainer);
        Assert.Equal(SyntheticData.ConfigHash, read.FeatureConfigHash);
        Assert.Equal(8, read.FeatureCount);
        Assert.Equal(Manifest("v1").Metrics, read.Metrics);
        Assert.Null(await registry.GetAsync("v2"));

        await Assert.ThrowsAsync<ModelVersionExistsException>(() => registry.RegisterAsync(Manifest("v1")));
    }

    [Fact]
    public async Task A_status_change_that_expects_another_status_changes_nothing_and_names_the_status_there()
    {
        var registry = await NewRegistryAsync();
        await registry.RegisterAsync(Manifest("cand"));
        await registry.SetStatusAsync("cand", ModelStatus.Rejected, "changed my mind", "carol");

        var refused = await Assert.ThrowsAsync<ModelStatusConflictException>(() =>
            registry.SetStatusAsync("cand", ModelStatus.Approved, "approved", "alice", null, expected: ModelStatus.Candidate));

        Assert.Contains("is Rejected (changed my mind), not Candidate", refused.Message, StringComparison.Ordinal);
        var record = (await registry.GetAsync("cand"))!;
        Assert.Equal((ModelStatus.Rejected, "changed my mind"), (record.Status, record.StatusReason));
        Assert.Equal("carol", (await registry.GetStatusHistoryAsync("cand"))[^1].By);

        // The status it expects: changed.
        await registry.RegisterAsync(Manifest("next"));
        Assert.Equal(ModelStatus.Approved, (await registry.SetStatusAsync("next", ModelStatus.Approved, "ok", "alice", null, expected: ModelStatus.Candidate)).Status);
    }

    [Fact]
    public async Task Publish_requires_an_approved_version()
    {
        var registry = await NewRegistryAsync();
        await registry.RegisterAsync(Manifest("cand"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => registry.PublishAsync("cand", null));
        await registry.SetStatusAsync("cand", ModelStatus.Rejected, "sentinel failed");
        await Assert.ThrowsAsync<InvalidOperationException>(() => registry.PublishAsync("cand", null));
        await Assert.ThrowsAsync<ModelNotFoundException>(() => registry.PublishAsync("ghost", null));
        await Assert.ThrowsAsync<ArgumentException>(() => registry.SetStatusAsync("cand", ModelStatus.Live));
        Assert.Null(await registry.GetLiveAsync());
    }

    [Fact]
    public async Task Publish_swaps_live_and_retires_the_previous_version()
    {
        var registry = await NewRegistryAsync();
        await RegisterApprovedAsync(registry, "v1", "v2");

        var first = await registry.PublishAsync("v1", expectedCurrentLive: null);
        clock.Advance(TimeSpan.FromHours(1));
        var second = await registry.PublishAsync("v2", expectedCurrentLive: "v1", reason: "better AUC");

        Assert.Equal((1, null, "v1"), (first.Sequence, first.From, first.To));
        Assert.Equal((2, "v1", "v2"), (second.Sequence, second.From, second.To));
        var live = await registry.GetLiveAsync();
        Assert.Equal(new LiveAlias("v2", "v1", 2, clock.GetUtcNow()), live);
        Assert.Equal(ModelStatus.Live, (await registry.GetAsync("v2"))!.Status);
        Assert.Equal(ModelStatus.Retired, (await registry.GetAsync("v1"))!.Status);
    }

    [Fact]
    public async Task Publish_with_a_stale_expected_live_fails_and_leaves_the_alias_unchanged()
    {
        var registry = await NewRegistryAsync();
        await RegisterApprovedAsync(registry, "v1", "v2", "v3");
        await registry.PublishAsync("v1", null);
        await registry.PublishAsync("v2", "v1");

        // Two pipelines both read "v1" as live; the second to publish loses.
        await Assert.ThrowsAsync<ModelAliasConflictException>(() => registry.PublishAsync("v3", "v1"));
        await Assert.ThrowsAsync<ModelAliasConflictException>(() => registry.PublishAsync("v3", null));

        Assert.Equal("v2", (await registry.GetLiveAsync())!.Version);
        Assert.Equal(ModelStatus.Approved, (await registry.GetAsync("v3"))!.Status);
        Assert.Equal(2, (await registry.GetHistoryAsync()).Count);
    }

    [Fact]
    public async Task Concurrent_publishers_with_the_same_expectation_get_exactly_one_winner()
    {
        var registry = await NewRegistryAsync();
        var candidates = Enumerable.Range(1, 6).Select(i => "c" + i).ToArray();
        await RegisterApprovedAsync(registry, ["base", .. candidates]);
        await registry.PublishAsync("base", null);

        var outcomes = await Task.WhenAll(candidates.Select(async v =>
        {
            try
            {
                await registry.PublishAsync(v, "base");
                return v;
            }
            catch (ModelAliasConflictException)
            {
                return null;
            }
        }));

        var winner = Assert.Single(outcomes, o => o is not null);
        var live = await registry.GetLiveAsync();
        Assert.Equal(winner, live!.Version);
        Assert.Equal(2, live.Sequence);
        Assert.Equal(2, (await registry.GetHistoryAsync()).Count);
        Assert.Single(await registry.ListAsync(), r => r.Status == ModelStatus.Live);
    }

    [Fact]
    public async Task Rollback_returns_to_the_previous_live_version_step_by_step()
    {
        var registry = await NewRegistryAsync();
        await RegisterApprovedAsync(registry, "a", "b", "c");
        await Assert.ThrowsAsync<ModelStatusConflictException>(() => registry.RollbackAsync());
        await registry.PublishAsync("a", null);
        await Assert.ThrowsAsync<ModelStatusConflictException>(() => registry.RollbackAsync());
        await registry.PublishAsync("b", "a");
        await registry.PublishAsync("c", "b");

        await Assert.ThrowsAsync<ModelAliasConflictException>(() => registry.RollbackAsync("oops", expectedCurrentLive: "b"));
        var back = await registry.RollbackAsync("c hurts click-through");
        Assert.Equal((AliasChangeKind.Rollback, "c", "b"), (back.Kind, back.From, back.To));
        Assert.Equal(new LiveAlias("b", "a", 4, clock.GetUtcNow()), await registry.GetLiveAsync());
        Assert.Equal(ModelStatus.Rejected, (await registry.GetAsync("c"))!.Status);
        Assert.Equal(ModelStatus.Live, (await registry.GetAsync("b"))!.Status);

        await registry.RollbackAsync();
        Assert.Equal(new LiveAlias("a", null, 5, clock.GetUtcNow()), await registry.GetLiveAsync());
        await Assert.ThrowsAsync<ModelStatusConflictException>(() => registry.RollbackAsync());

        // A rolled-back model must be approved again before it can return.
        await Assert.ThrowsAsync<InvalidOperationException>(() => registry.PublishAsync("c", "a"));

        var history = await registry.GetHistoryAsync();
        Assert.Equal(
            [(1L, AliasChangeKind.Publish, (string?)null, "a"), (2, AliasChangeKind.Publish, "a", "b"), (3, AliasChangeKind.Publish, "b", "c"), (4, AliasChangeKind.Rollback, "c", "b"), (5, AliasChangeKind.Rollback, "b", "a")],
            history.Select(h => (h.Sequence, h.Kind, h.From, h.To)));
        Assert.Equal("c hurts click-through", history[3].Reason);
    }

    [Fact]
    public async Task Rollback_never_brings_back_a_version_rejected_since_it_was_replaced()
    {
        var registry = await NewRegistryAsync();
        await RegisterApprovedAsync(registry, "a", "b");
        await registry.PublishAsync("a", null);
        await registry.PublishAsync("b", "a");

        // An operator rejects the retired "a" (say, its data turned out bad): rollback may not revive it.
        await registry.SetStatusAsync("a", ModelStatus.Rejected, "trained on a corrupt day");
        var refused = await Assert.ThrowsAsync<ModelStatusConflictException>(() => registry.RollbackAsync());
        Assert.Contains("is Rejected", refused.Message, StringComparison.Ordinal);
        Assert.Equal("b", (await registry.GetLiveAsync())!.Version);

        // The chain a -> b, a (re-published) -> b by rollback -> a again by rollback, as the review found it.
        var chain = await NewRegistryAsync();
        await RegisterApprovedAsync(chain, "a", "b");
        await chain.PublishAsync("a", null);
        await chain.PublishAsync("b", "a");
        await chain.PublishAsync("a", "b");       // a was Retired, comes back
        await chain.RollbackAsync();              // back to b; a is Rejected, and b's previous is a
        Assert.Equal(ModelStatus.Rejected, (await chain.GetAsync("a"))!.Status);
        await Assert.ThrowsAsync<ModelStatusConflictException>(() => chain.RollbackAsync());
        Assert.Equal("b", (await chain.GetLiveAsync())!.Version);
    }

    [Fact]
    public async Task Version_ids_that_could_inject_into_a_filter_are_rejected_before_any_query()
    {
        var registry = await NewRegistryAsync();
        await RegisterApprovedAsync(registry, "v1");
        const string injection = "v1' or RowKey ne '";

        await Assert.ThrowsAsync<ArgumentException>(() => registry.GetAsync(injection));
        await Assert.ThrowsAsync<ArgumentException>(() => registry.PublishAsync(injection, null));
        await Assert.ThrowsAsync<ArgumentException>(() => registry.PublishAsync("v1", injection));
        await Assert.ThrowsAsync<ArgumentException>(() => registry.RegisterAsync(Manifest(injection)));
        await Assert.ThrowsAsync<ArgumentException>(() => registry.SetStatusAsync(injection, ModelStatus.Rejected));

        Assert.Null(await registry.GetLiveAsync());
        Assert.Equal(["v1"], (await registry.ListAsync()).Select(r => r.Version));
    }

    [Fact]
    public async Task Registry_rows_live_in_one_partition_of_the_prefixed_table()
    {
        var prefix = azurite.NewPrefix();
        var registry = new ModelRegistry(azurite.Tables(), prefix, clock);
        await registry.EnsureCreatedAsync();
        await RegisterApprovedAsync(registry, "v1");
        await registry.PublishAsync("v1", null);

        Assert.Equal(prefix + "models", registry.Table.Name);
        var keys = new List<string>();
        await foreach (var row in registry.Table.QueryAsync<TableEntity>())
        {
            keys.Add(row.PartitionKey + "/" + row.RowKey);
        }

        Assert.Equal(["registry/alias:live", "registry/history:live:0000000000000000001", "registry/version:v1"], keys.Where(k => !k.StartsWith("registry/status:", StringComparison.Ordinal)));
        Assert.Equal(3, keys.Count(k => k.StartsWith("registry/status:v1:", StringComparison.Ordinal)));   // the status history: Candidate, Approved, Live
        Assert.Throws<ArgumentException>(() => new ModelRegistry(azurite.Tables(), "bad-prefix"));
    }
}
