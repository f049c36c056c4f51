using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Serverless.Features;
using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.Precompute;
using Serverless.Ranking;
using Serverless.Sentinel;
using Serverless.Tests.Fixtures;
using Serverless.Tests.Models;
using Serverless.Tests.Precompute;
using Serverless.Training;
using Serverless.Workflows;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Tests.Sentinel;

/// <summary>
/// The fault suite's world, built once for the test class on the shared Azurite: a fact snapshot and
/// a published title-stats version (the candidates' dependencies), a clean LightGBM model live, and
/// two feature logs of labelled impressions logged after the candidates' held-out time: the traffic
/// as it is, and the same traffic with one feature shifted (the drift fault). The impressions are
/// landed by <see cref="FeatureLogStore.IngestAsync"/> and labelled by the real label join from like
/// facts in the archive, so the validation step reads its shadow data as it does in production.
/// The data is SyntheticData's known logistic truth, widened to the serving encoder's width (the
/// extra columns are noise the label does not depend on).
/// </summary>
public sealed class SentinelFaultWorld : IDisposable
{
    /// <summary>Shadow impressions: requests of <see cref="RequestSize"/> candidates, one member each.</summary>
    public const int ShadowRows = 4000;
    public const int RequestSize = 10;

    /// <summary>
    /// The suite's serving budget: 5 ms to score 100 candidates (50 us each). The live and clean
    /// models score a batch of the logged traffic in under 1 ms, the slow candidate (4,000 trees) in
    /// about 20: each far from the budget, so the verdict does not hang on the machine's speed.
    /// </summary>
    public static readonly TimeSpan ServingBudget = TimeSpan.FromMilliseconds(5);

    public static readonly SentinelOptions Options = new() { MinShadowRows = 500, MinShadowRequests = 30, ServingBudget = ServingBudget };

    public static readonly FeatureEncoder Encoder = new(FeatureConfig.Default);

    /// <summary>A noise column (the label ignores it): shifting it is drift and nothing else.</summary>
    public static readonly int NoiseColumn = SyntheticData.FeatureNames.Count + 1;

    private static readonly TrainPipelineRequest Request = new(TrainerKind.LightGbm, false, TimeSpan.FromHours(1), "fault-suite");

    private readonly SemaphoreSlim building = new(1, 1);
    private PrecomputeWorld? world;
    private AzuriteFixture azurite = null!;

    public PrecomputeWorld World => world ?? throw new InvalidOperationException("call BuildAsync first");
    public ModelRegistry Models { get; private set; } = null!;
    public SentinelAlerts Alerts { get; private set; } = null!;
    public DependencyResolvers Resolvers { get; private set; } = null!;
    public FeatureLogStore Log { get; private set; } = null!;
    public FeatureLogStore ShiftedLog { get; private set; } = null!;
    public string Snapshot { get; private set; } = null!;
    public DerivedVersion Stats { get; private set; } = null!;
    public ModelManifest Live { get; private set; } = null!;

    /// <summary>When the shadow traffic starts: the candidates' held-out time.</summary>
    public DateTimeOffset HeldOutFrom => World.At(100);

    /// <summary>Builds the world once (every test of the class awaits the same build).</summary>
    public async Task<SentinelFaultWorld> BuildAsync(AzuriteFixture fixture)
    {
        await building.WaitAsync();
        try
        {
            if (world is null)
            {
                azurite = fixture;
                await BuildCoreAsync(new PrecomputeWorld(fixture));
            }

            return this;
        }
        finally
        {
            building.Release();
        }
    }

    private async Task BuildCoreAsync(PrecomputeWorld w)
    {
        world = w;
        Snapshot = await w.SnapshotAsync(w.At(100));
        Stats = await w.PublishDirectAsync(DerivedDatasets.TitleStats, w.At(100));
        await w.ModelStore.EnsureCreatedAsync();
        var prefix = azurite.NewPrefix();
        Models = new ModelRegistry(azurite.Tables(), prefix);
        await Models.EnsureCreatedAsync();
        Alerts = new SentinelAlerts(azurite.Tables(), prefix);
        await Alerts.EnsureCreatedAsync();
        Resolvers = new DependencyResolvers([new SnapshotDependencyResolver(w.Snapshots), .. DerivedDependencyResolver.All(w.Registry, w.Store)]);

        Live = await CandidateAsync("live-1", TrainerKind.LightGbm);
        await Models.RegisterAsync(Live, "setup");
        await Models.SetStatusAsync(Live.Version, ModelStatus.Approved, "setup");
        await Models.PublishAsync(Live.Version, null, "setup");

        // The traffic the live model served after the held-out time, and its likes in the archive.
        var rows = Wide(ShadowRows, 99);
        Log = await FeatureLogAsync(w.Archive.Options.TablePrefix, rows.Select(r => r.Features).ToList());
        ShiftedLog = await FeatureLogAsync(azurite.NewPrefix(), rows.Select(r => Shift(r.Features)).ToList());
        w.Archive.Clock.SetUtcNow(w.At(150));
        var likes = rows.Select((r, i) => (Row: i, r.Label)).Where(x => x.Label)
            .Select(x => w.Archive.Event(ArchiveHarness.Rating(Member(x.Row / RequestSize), x.Row % RequestSize, 5, RequestTime(x.Row / RequestSize).AddHours(1), id: $"like:{x.Row}")))
            .ToList();
        foreach (var chunk in likes.Chunk(500))
        {
            await w.Archive.Archive.IngestAsync(chunk);
        }

        var lumberjack = Microsoft.Extensions.Options.Options.Create(new LumberjackOptions());
        foreach (var log in new[] { Log, ShiftedLog })
        {
            var run = await new LabelJoiner(log, w.Archive.Reader, lumberjack, w.Archive.Clock).RunAsync();
            if (run.Labelled != ShadowRows || run.StillOpen != 0)
            {
                throw new InvalidOperationException($"the label join labelled {run.Labelled} of {ShadowRows} impressions ({run.StillOpen} still open)");
            }
        }
    }

    private static float[] Shift(float[] features)
    {
        var shifted = (float[])features.Clone();
        shifted[NoiseColumn] += 1.5f;
        return shifted;
    }

    private static int Member(int request) => 1000 + request;

    private DateTimeOffset RequestTime(int request) => HeldOutFrom.AddMinutes(request);

    /// <summary>A feature log (on its own tables and container) holding <paramref name="vectors"/> as requests of <see cref="RequestSize"/>, landed as the trigger lands them.</summary>
    private async Task<FeatureLogStore> FeatureLogAsync(string prefix, List<float[]> vectors)
    {
        var log = new FeatureLogStore(azurite.Tables(), azurite.Blobs(), Microsoft.Extensions.Options.Options.Create(new Serverless.Archive.ArchiveOptions { TablePrefix = prefix }), World.Archive.Tables, TimeProvider.System);
        await log.EnsureCreatedAsync();
        var events = new List<Serverless.Events.IncomingEvent>();
        for (var r = 0; r * RequestSize < vectors.Count; r++)
        {
            var at = RequestTime(r);
            var records = Enumerable.Range(0, RequestSize).Select(p => new FeatureLogRecord(
                $"req-{r}", at, Member(r).ToString(System.Globalization.CultureInfo.InvariantCulture), p.ToString(System.Globalization.CultureInfo.InvariantCulture), p,
                Live.Version, Encoder.ConfigHash, vectors[(r * RequestSize) + p], 0.5f, at.AddMinutes(-1), false)).ToArray();
            events.Add(new Serverless.Events.IncomingEvent(FeatureLogEvent.From(records).ToJson(), at, r));
        }

        var landed = await log.IngestAsync(events);
        if (landed.Impressions != vectors.Count || landed.DeadLettered != 0)
        {
            throw new InvalidOperationException($"landed {landed.Impressions} of {vectors.Count} impressions, {landed.DeadLettered} dead-lettered");
        }

        return log;
    }

    internal static List<TrainingExample> Wide(int count, int seed)
    {
        var random = new Random(seed + 1_000);
        return SyntheticData.Examples(count, seed).Select(e =>
        {
            var x = new float[Encoder.Count];
            e.Features.CopyTo(x, 0);
            for (var i = e.Features.Length; i < x.Length; i++)
            {
                x[i] = (float)(random.NextDouble() * 2 - 1);
            }

            return e with { Features = x };
        }).ToList();
    }

    /// <summary>
    /// Trains a candidate on the live model's data and stores it with what the training job adds
    /// (popularity floor, held-out time, profiles, golden probes made by this encoder); the pipeline's
    /// training step registers it.
    /// </summary>
    public async Task<ModelManifest> CandidateAsync(string version, TrainerKind trainer, int seed = 42,
        Func<TrainingRequest, TrainingRequest>? change = null, BinaryData? artifact = null)
    {
        var request = new TrainingRequest
        {
            FeatureNames = Encoder.Names,
            FeatureConfigHash = Encoder.ConfigHash,
            Train = Wide(5000, 1),
            Validation = Wide(2000, 2),
            Trainer = trainer,
            Version = version,
            TrainedFrom = World.At(0),
            TrainedTo = World.At(100),
            Lineage = [Snapshot],
            Dependencies = [TrainingJob.SnapshotDependency(Snapshot), Stats.Dependency],
            Seed = seed,
            CreatedAt = World.At(101),
        };
        request = change?.Invoke(request) ?? request;
        using var model = ModelTrainer.Train(request);
        var facts = await World.Snapshots.LoadAsync(Snapshot, CancellationToken.None);
        var data = ServingData.Build(facts, TrainingJob.WatermarkOf(Snapshot), Encoder.Config, Snapshot);
        GoldenProbeSet probes;
        using (var scorer = new ModelScorer(model))
        {
            probes = GoldenProbes.Build(facts, data, Encoder, scorer);
        }

        var manifest = model.Manifest with
        {
            Metrics = new Dictionary<string, double>(model.Manifest.Metrics) { [ModelMetricNames.PopularityBaselineAuc] = 0.5 },
            HeldOutFrom = HeldOutFrom,
            FeatureProfiles = FeatureDrift.Profile(request.FeatureNames, FeatureDrift.ReferenceWindow(request.Train.Select(e => e.Features).ToList())),
            GoldenProbes = probes,
        };
        await World.ModelStore.SaveAsync(manifest, artifact ?? new BinaryData(SharedModels.Zip(model)));
        return manifest;
    }

    /// <summary>The pipeline's validator over <paramref name="log"/> (default: the traffic as it is), with <paramref name="encoder"/> as this deployment's feature code.</summary>
    public CandidateValidator Validator(FeatureLogStore? log = null, FeatureEncoder? encoder = null) =>
        new(World.ModelStore, Models, Resolvers, log ?? Log, encoder ?? Encoder, Microsoft.Extensions.Options.Options.Create(Options), NullLogger<CandidateValidator>.Instance);

    /// <summary>How a pipeline run went: its result once it ended (null while it waits at the gate) and its last custom status.</summary>
    public sealed record PipelineRun(TrainPipelineResult? Result, TrainPipelineStatus Progress);

    /// <summary>
    /// Runs the real training pipeline on the in-process Durable host, its training step registering
    /// <paramref name="candidate"/>, with the real validation, publish and reject activities; returns
    /// once the pipeline ended or waits for approval.
    /// </summary>
    public async Task<PipelineRun> RunPipelineAsync(ModelManifest candidate, CandidateValidator? validator = null)
    {
        await using var host = await InProcessDurableHost.StartAsync(tasks =>
        {
            tasks.AddOrchestrator<TrainPipelineOrchestrator>();
            tasks.AddActivity(TaskNames.TrainCandidate, new RegisteringTrainer(Models, _ => candidate));
            tasks.AddActivity(TaskNames.ValidateCandidate, new ValidateCandidateActivity(validator ?? Validator(), Models, Alerts));
            tasks.AddActivity(new PublishModelActivity(Models));
            tasks.AddActivity(new RejectModelActivity(Models, Alerts));
        });
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.TrainPipeline, Request);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var state = await TrainPipelineInstances.WaitForApprovalGateAsync(host.Client, id, timeout.Token)
            ?? throw new InvalidOperationException($"pipeline {id} vanished");
        if (state.RuntimeStatus is OrchestrationRuntimeStatus.Failed)
        {
            throw new InvalidOperationException($"pipeline {id} failed: {state.FailureDetails?.ErrorMessage}");
        }

        return new PipelineRun(state.IsCompleted ? state.ReadOutputAs<TrainPipelineResult>() : null, TrainPipelineInstances.Progress(state)!);
    }

    /// <summary>GET /api/models/{version} (the function itself, on a request built in memory): the record, its history and the stored report.</summary>
    public async Task<JsonNode> GetModelAsync(string version)
    {
        var http = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        http.Request.Method = "GET";
        var result = Assert.IsType<Microsoft.AspNetCore.Mvc.OkObjectResult>(await new Serverless.Functions.Models.ModelsApi(new Serverless.Sentinel.ModelCatalog(Models, Validator())).Get(http.Request, version));
        return JsonNode.Parse(JsonSerializer.Serialize(result.Value, ModelJson.Options))!;
    }

    public void Dispose()
    {
        world?.Dispose();
        building.Dispose();
    }
}
