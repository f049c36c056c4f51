using Microsoft.DurableTask;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Models;
using Serverless.Precompute;
using Serverless.Tests.Features;
using Serverless.Tests.Fixtures;
using Serverless.TimeMachine;
using Serverless.Workflows;
using Serverless.Workflows.Precompute;

namespace Serverless.Tests.Precompute;

/// <summary>
/// Derived data on its own table and container in the shared Azurite, with a fake clock, synthetic
/// ratings over a year (members who like titles of "their" genre), and the precompute orchestration
/// on the in-process Durable Task host with the real activities.
/// </summary>
public sealed class PrecomputeWorld : IDisposable
{
    public static readonly DateTimeOffset Origin = new(2019, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly string[] Genres = ["Drama", "Comedy", "Horror", "Action"];

    public PrecomputeWorld(AzuriteFixture azurite, int seed = 7)
    {
        Archive = new ArchiveHarness(azurite);
        var prefix = azurite.NewPrefix();
        Clock = new FakeTimeProvider(Origin.AddDays(400));
        Registry = new DerivedVersionRegistry(azurite.Tables(), prefix, Clock);
        Registry.EnsureCreatedAsync().GetAwaiter().GetResult();
        Store = new DerivedDataStore(azurite.Blobs(), "d" + prefix);
        Store.EnsureCreatedAsync().GetAwaiter().GetResult();
        Snapshots = new FactSnapshotStore(azurite.Blobs());
        Models = new ModelRegistry(azurite.Tables(), prefix, Clock);
        Models.EnsureCreatedAsync().GetAwaiter().GetResult();
        ModelStore = new ModelStore(azurite.Blobs(), "m" + prefix);
        Worker = new PrecomputeWorker(Snapshots, Store, ModelStore, Encoder);
        Versions = new TitleStatsVersions(Registry, Store, Encoder);
        Facts = Generate(seed);
        // Snapshot names are per watermark in one shared container: a unique minute per world.
        Minute = Random.Shared.Next(1, 500_000);
    }

    public ArchiveHarness Archive { get; }
    public FeatureEncoder Encoder { get; } = new(FeatureConfig.Default);
    public FakeTimeProvider Clock { get; }
    public DerivedVersionRegistry Registry { get; }
    public DerivedDataStore Store { get; }
    public FactSnapshotStore Snapshots { get; }
    public ModelRegistry Models { get; }
    public ModelStore ModelStore { get; }
    public PrecomputeWorker Worker { get; }
    public TitleStatsVersions Versions { get; }
    public List<Fact> Facts { get; }
    private int Minute { get; }

    /// <summary>A moment within the world's history, unique to this world (to the second).</summary>
    public DateTimeOffset At(double days) => Origin.AddDays(days).AddSeconds(Minute);

    /// <summary>Saves the snapshot of every fact known at <paramref name="asOf"/>; returns its name.</summary>
    public Task<string> SnapshotAsync(DateTimeOffset asOf) => Snapshots.SaveAsync(Facts, asOf, CancellationToken.None);

    public static PrecomputeRequest Request(string dataset, DateTimeOffset asOf, string snapshot, int partitions = 4, int maxParallel = 2, int size = 5) =>
        new(dataset, asOf, snapshot, partitions, maxParallel, size, "test");

    public async Task<DurableTaskTestHost> HostAsync(TaskActivity<PartitionWork, PartitionCounts>? partition = null, Microsoft.Extensions.Logging.ILoggerFactory? logs = null) =>
        await InProcessDurableHost.StartAsync(tasks =>
        {
            tasks.AddOrchestrator<PrecomputeOrchestrator>();
            tasks.AddActivity(TaskNames.BeginPrecompute, new BeginPrecomputeActivity(Registry, Models, Encoder));
            tasks.AddActivity(TaskNames.PrepareInputs, new PrepareInputsActivity(Snapshots, Archive.Reader));
            tasks.AddActivity(TaskNames.ComputePartition, partition ?? new ComputePartitionActivity(Worker));
            tasks.AddActivity(TaskNames.PublishPrecompute, new PublishPrecomputeActivity(Registry, Store));
            tasks.AddActivity(TaskNames.FailPrecompute, new FailPrecomputeActivity(Registry));
        }, logs);

    /// <summary>Computes every partition in-process and publishes (what the orchestration does), at the fake clock's time.</summary>
    public async Task<DerivedVersion> PublishDirectAsync(string dataset, DateTimeOffset asOf, int partitions = 3)
    {
        var snapshot = await SnapshotAsync(asOf);
        var version = DerivedVersionIds.Create(asOf, Guid.NewGuid());
        await Registry.BeginAsync(new DerivedVersion(dataset, version, DerivedVersionStatus.Building, asOf, [PrecomputeInputs.SnapshotPrefix + snapshot],
            PrecomputeCode.Hash(Encoder.ConfigHash), partitions, new Dictionary<string, long>(), default, null, null, "direct", null), TimeSpan.FromHours(1));
        long keys = 0;
        for (var p = 0; p < partitions; p++)
        {
            keys += (await Worker.ComputeAsync(new PartitionWork(dataset, version, snapshot, asOf, p, partitions, 5, null))).Keys;
        }

        return await Registry.PublishAsync(dataset, version, "direct", new Dictionary<string, long> { ["keys"] = keys });
    }

    private static List<Fact> Generate(int seed)
    {
        var random = new Random(seed);
        var facts = new List<Fact>();
        for (var t = 0; t < 40; t++)
        {
            facts.Add(F.Catalog($"t{t}", Genres[t % Genres.Length], 1990 + t, Origin.AddDays(-30), id: $"catalog:t{t}"));
        }

        for (var m = 0; m < 30; m++)
        {
            var genre = m % Genres.Length;
            for (var i = 0; i < 25; i++)
            {
                var t = random.Next(40);
                var at = Origin.AddDays(random.NextDouble() * 380);
                var value = t % Genres.Length == genre ? 4 + random.Next(2) * 0.5 : 1 + random.Next(5) * 0.5;
                facts.Add(F.Rating($"m{m}", $"t{t}", value, at, id: $"rating:m{m}:t{t}:{i}"));
            }
        }

        return facts;
    }

    public void Dispose()
    {
        Worker.Dispose();
        Archive.Dispose();
    }
}
