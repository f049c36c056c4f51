using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Models;
using Serverless.TimeMachine;
using Serverless.Training;

namespace Serverless.Ranking;

/// <summary>A model ready to serve, with the data it depends on.</summary>
public sealed class ServingBundle(ModelScorer scorer, ServingData data) : IDisposable
{
    public ModelScorer Scorer { get; } = scorer;
    public ModelManifest Manifest => Scorer.Model.Manifest;
    public ServingData Data { get; } = data;

    public void Dispose()
    {
        Scorer.Dispose();
        Scorer.Model.Dispose();
    }
}

/// <summary>A refused model: when, which, and the Sentinel's report.</summary>
public sealed record ModelAlert(DateTimeOffset At, string Version, SentinelReport Report);

/// <summary>
/// The model this instance serves. It follows the registry's "live" alias, but a new model only
/// replaces the one in memory after the online Sentinel passes: the artifact loads, its feature
/// names and config hash are the serving encoder's, the fact snapshot it depends on is available,
/// and a probe batch scores finite values in [0,1]. Otherwise the current model stays and an alert
/// is recorded. The swap is one reference exchange: requests in flight finish on the model they took.
/// </summary>
public sealed class LiveModel(ModelRegistry registry, ModelStore store, FactSnapshotStore snapshots, FeatureEncoder encoder, TimeProvider time, ILogger<LiveModel> logger) : IDisposable
{
    private const int MaxAlerts = 50;
    private readonly SemaphoreSlim refreshing = new(1, 1);
    private readonly List<ModelAlert> alerts = [];
    private ServingBundle? current;
    private string? lastRefused;

    public ServingBundle? Current => Volatile.Read(ref current);

    public IReadOnlyList<ModelAlert> Alerts
    {
        get { lock (alerts) { return alerts.ToList(); } }
    }

    /// <summary>Loads the live version if it changed; returns the Sentinel report of a version it tried, else null.</summary>
    public async Task<SentinelReport?> RefreshAsync(CancellationToken cancellationToken = default)
    {
        await refreshing.WaitAsync(cancellationToken);
        try
        {
            var live = await registry.GetLiveAsync(cancellationToken);
            if (live is null || live.Version == Current?.Manifest.Version || live.Version == lastRefused)
            {
                return null;
            }

            var (report, bundle) = await TryLoadAsync(live.Version, cancellationToken);
            if (bundle is null)
            {
                lastRefused = live.Version;
                lock (alerts)
                {
                    alerts.Add(new ModelAlert(time.GetUtcNow(), live.Version, report));
                    if (alerts.Count > MaxAlerts) { alerts.RemoveAt(0); }
                }

                logger.LogError("Sentinel refused model {Version}; keeping {Current}: {Failures}", live.Version, Current?.Manifest.Version ?? "(none)",
                    string.Join("; ", report.Failures.Select(f => $"{f.Name}: {f.Measured} (needs {f.Threshold})")));
                return report;
            }

            var previous = Interlocked.Exchange(ref current, bundle);
            logger.LogInformation("Serving model {Version} (was {Previous})", live.Version, previous?.Manifest.Version ?? "(none)");
            if (previous is not null)
            {
                // Requests in flight may still hold the previous bundle: release it later, not now.
                _ = Task.Delay(TimeSpan.FromSeconds(30), CancellationToken.None).ContinueWith(_ => previous.Dispose(), TaskScheduler.Default);
            }

            return report;
        }
        finally
        {
            refreshing.Release();
        }
    }

    private async Task<(SentinelReport Report, ServingBundle? Bundle)> TryLoadAsync(string version, CancellationToken cancellationToken)
    {
        StoredModel? stored;
        try
        {
            stored = await store.DownloadAsync(version, cancellationToken);
        }
        catch (Exception ex) when (ex is InvalidDataException or Azure.RequestFailedException)
        {
            return (Failed(version, ModelSentinel.ArtifactLoads, ex.Message), null);
        }

        if (stored is null)
        {
            return (Failed(version, ModelSentinel.ArtifactLoads, "artifact missing from the model store"), null);
        }

        var snapshot = TrainingJob.SnapshotOf(stored.Manifest);
        List<Fact>? facts = null;
        string dependency;
        try
        {
            facts = snapshot is not null && await snapshots.ExistsAsync(snapshot, cancellationToken) ? await snapshots.LoadAsync(snapshot, cancellationToken) : null;
            dependency = facts is null ? $"snapshot '{snapshot ?? "(none named)"}' not found" : $"{facts.Count} facts";
        }
        catch (Exception ex) when (ex is InvalidDataException or Azure.RequestFailedException or System.Text.Json.JsonException or IOException)
        {
            dependency = $"snapshot unreadable: {ex.Message}";
        }

        var dependencyCheck = new SentinelCheck("dependent-data-available", dependency, "the fact snapshot named in the manifest loads", facts is not null);
        if (facts is null)
        {
            return (new SentinelReport(version, [dependencyCheck]), null);
        }

        var data = ServingData.Build(facts, TrainingJob.WatermarkOf(snapshot!), encoder.Config, snapshot!);
        var probe = Probe(data, facts);
        var report = ModelSentinel.Check(stored.Load, encoder.ConfigHash, encoder.Names, probe, SentinelOptions.Default, out var accepted);
        report = report with { Checks = [.. report.Checks, dependencyCheck] };
        return accepted is null ? (report, null) : (report, new ServingBundle(new ModelScorer(accepted), data));
    }

    /// <summary>A probe batch: a few members' profiles at the watermark against the most popular titles.</summary>
    private List<float[]> Probe(ServingData data, List<Fact> facts)
    {
        var members = facts.Where(f => f.Kind == FactKind.Rating).GroupBy(f => f.Member!).OrderBy(g => g.Key, StringComparer.Ordinal).Take(5).ToList();
        var rows = new List<float[]>();
        foreach (var member in members.Count > 0 ? members.Select(g => new MemberHistory(g.Key, g.ToList())) : [MemberHistory.Empty("probe")])
        {
            var profile = encoder.Profile(member, data.Watermark, data.Catalog, data.Stats);
            rows.AddRange(data.Popular.Take(20).DefaultIfEmpty("unknown-title").Select(t => encoder.Encode(profile, t)));
        }

        return rows;
    }

    public void Dispose()
    {
        refreshing.Dispose();
        Interlocked.Exchange(ref current, null)?.Dispose();
    }

    private static SentinelReport Failed(string version, string check, string measured) =>
        new(version, [new SentinelCheck(check, measured, "loads", false)]);
}

/// <summary>Loads the live model at start-up and follows the alias every 30 seconds.</summary>
public sealed class LiveModelRefresher(LiveModel model, ILogger<LiveModelRefresher> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await model.RefreshAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Checking the live model failed; serving what is loaded");
            }

            await Task.Delay(Interval, stoppingToken);
        }
    }
}
