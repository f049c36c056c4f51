using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Models;
using Serverless.Sentinel;
using Serverless.TimeMachine;
using Serverless.Training;

namespace Serverless.Ranking;

/// <summary>
/// A model ready to serve, with the data it depends on. Reference-counted: <see cref="LiveModel"/>
/// holds one reference while the bundle is current, each request holds one through a
/// <see cref="ServingLease"/>, and the model is disposed when the last is released, so a request
/// never scores with a disposed model however long it takes.
/// </summary>
public sealed class ServingBundle(ModelScorer scorer, ServingData data) : IDisposable
{
    private int references = 1;

    public ModelScorer Scorer { get; } = scorer;
    public ModelManifest Manifest => Scorer.Model.Manifest;
    public ServingData Data { get; } = data;

    /// <summary>True once the last reference was released and the model disposed.</summary>
    public bool IsDisposed => Volatile.Read(ref references) == 0;

    /// <summary>Takes a reference unless the bundle is already disposed.</summary>
    internal bool TryAcquire()
    {
        var seen = Volatile.Read(ref references);
        while (seen > 0)
        {
            var before = Interlocked.CompareExchange(ref references, seen + 1, seen);
            if (before == seen)
            {
                return true;
            }

            seen = before;
        }

        return false;
    }

    /// <summary>Releases one reference; the last one disposes the model.</summary>
    internal void Release()
    {
        if (Interlocked.Decrement(ref references) == 0)
        {
            Scorer.Dispose();
            Scorer.Model.Dispose();
        }
    }

    /// <summary>Releases the owner's reference (the model goes once no request holds it).</summary>
    public void Dispose() => Release();
}

/// <summary>A request's hold on the current model (or on none); dispose it when the request is done.</summary>
public readonly struct ServingLease(ServingBundle? bundle) : IDisposable
{
    public ServingBundle? Bundle { get; } = bundle;

    public void Dispose() => Bundle?.Release();
}

/// <summary>A refused model: when, which, and the Sentinel's report.</summary>
public sealed record ModelAlert(DateTimeOffset At, string Version, SentinelReport Report);

/// <summary>
/// The model this instance serves. It follows the registry's "live" alias, but a new model only
/// replaces the one in memory after the online Sentinel passes: the artifact loads, its feature
/// names and config hash are the serving encoder's, the fact snapshot it depends on is available,
/// and a probe batch scores finite values in [0,1]. Otherwise the current model stays and an alert
/// is recorded. The swap is one reference exchange: requests in flight finish on the model they took
/// (their lease keeps it), and it is disposed when the last of them is done. A storage error while
/// loading is not a verdict: the version is tried again on the next refresh.
/// </summary>
public sealed class LiveModel(
    ModelRegistry registry,
    ModelStore store,
    Serverless.Sentinel.DependencyResolvers dependencies,
    FeatureEncoder encoder,
    TimeProvider time,
    SentinelAlerts sentinelAlerts,
    IOptions<SentinelOptions> options,
    ILogger<LiveModel> logger) : IDisposable
{
    public const string DependentDataAvailable = Serverless.Sentinel.SentinelChecks.DependentData;
    private const int MaxAlerts = 50;
    private readonly SemaphoreSlim refreshing = new(1, 1);
    private readonly List<ModelAlert> alerts = [];
    private ServingBundle? current;
    private readonly HashSet<string> refused = new(StringComparer.Ordinal);
    private string? lastRefused;

    public ServingBundle? Current => Volatile.Read(ref current);

    /// <summary>The current model, held until the lease is disposed (a lease of no model when none is live).</summary>
    public ServingLease Acquire()
    {
        while (Current is { } bundle)
        {
            if (bundle.TryAcquire())
            {
                return new ServingLease(bundle);
            }

            // It was swapped out and released in between: the next read sees its successor.
        }

        return default;
    }

    public IReadOnlyList<ModelAlert> Alerts
    {
        get { lock (alerts) { return alerts.ToList(); } }
    }

    /// <summary>
    /// Loads the live version if it changed; returns the Sentinel report of a version it tried, else
    /// null. When the loader refuses the version the alias points to, an alert is persisted and (unless
    /// Sentinel__RepublishOnRefusal is off) the alias is moved back to the last version that passed,
    /// which a cold instance then loads in the same call.
    /// </summary>
    public async Task<SentinelReport?> RefreshAsync(CancellationToken cancellationToken = default)
    {
        await refreshing.WaitAsync(cancellationToken);
        try
        {
            SentinelReport? first = null;
            for (var attempt = 0; attempt < 3; attempt++)
            {
                var (report, moved) = await RefreshOnceAsync(cancellationToken);
                first ??= report;
                if (!moved)
                {
                    break;
                }
            }

            return first;
        }
        finally
        {
            refreshing.Release();
        }
    }

    private async Task<(SentinelReport? Report, bool AliasMoved)> RefreshOnceAsync(CancellationToken cancellationToken)
    {
        var live = await registry.GetLiveAsync(cancellationToken);
        if (live is null || live.Version == Current?.Manifest.Version || live.Version == lastRefused)
        {
            return (null, false);
        }

        var (report, bundle, transient) = await TryLoadAsync(live.Version, cancellationToken);
        if (transient)
        {
            logger.LogWarning("Could not read model {Version} from storage ({Reason}); keeping {Current}, trying again on the next refresh",
                live.Version, report.Failures.FirstOrDefault()?.Measured, Current?.Manifest.Version ?? "(none)");
            return (report, false);
        }

        if (bundle is null)
        {
            lastRefused = live.Version;
            lock (refused) { refused.Add(live.Version); }
            lock (alerts)
            {
                alerts.Add(new ModelAlert(time.GetUtcNow(), live.Version, report));
                if (alerts.Count > MaxAlerts) { alerts.RemoveAt(0); }
            }

            var failures = string.Join("; ", report.Failures.Select(f => $"{f.Name}: {f.Measured} (needs {f.Threshold})"));
            logger.LogError("Sentinel refused model {Version}; keeping {Current}: {Failures}", live.Version, Current?.Manifest.Version ?? "(none)", failures);
            // Like the pipeline's candidate-rejected alert, a refusal is of the whole version: no single check
            // (that field is a metric dimension), and its detail names every failed check, not only the first.
            await AlertAsync(AlertKinds.LoaderRefused, live.Version, null,
                $"refused by the Sentinel: {string.Join(", ", report.Failures.Select(f => f.Name))}; {failures}", cancellationToken);
            var moved = options.Value.RepublishOnRefusal && await RepublishAsync(live, cancellationToken);
            return (report, moved);
        }

        var previous = Interlocked.Exchange(ref current, bundle);
        logger.LogInformation("Serving model {Version} (was {Previous})", live.Version, previous?.Manifest.Version ?? "(none)");
        // Requests in flight hold leases on the previous bundle: it is disposed when the last ends.
        previous?.Dispose();
        return (report, false);
    }

    /// <summary>
    /// Moves "live" from the refused version back to the last version that passed: the one this
    /// instance serves, else the newest earlier live version that is Retired or Approved, passed the
    /// pipeline's Sentinel (or predates it) and was not refused here. ETag-guarded: when another
    /// instance moved the alias first, nothing changes. The refused version ends Rejected.
    /// </summary>
    private async Task<bool> RepublishAsync(LiveAlias live, CancellationToken cancellationToken)
    {
        try
        {
            string? target = null;
            if (Current?.Manifest.Version is { } serving && serving != live.Version && await Republishable(serving))
            {
                target = serving;
            }
            else
            {
                foreach (var change in (await registry.GetHistoryAsync(cancellationToken)).Reverse())
                {
                    if (change.To != live.Version && !IsRefused(change.To) && await Republishable(change.To))
                    {
                        target = change.To;
                        break;
                    }
                }
            }

            if (target is null)
            {
                logger.LogWarning("Model {Version} was refused and no earlier version that passed can go live; the alias stays", live.Version);
                return false;
            }

            var reason = $"republished by the serving loader ({Source}): {live.Version} was refused";
            if (live.Previous == target)
            {
                await registry.RollbackAsync(reason, live.Version, cancellationToken);
            }
            else
            {
                await registry.PublishAsync(target, live.Version, reason, cancellationToken);
                await registry.SetStatusAsync(live.Version, ModelStatus.Rejected, reason, Source, cancellationToken);
            }

            await AlertAsync(AlertKinds.Republished, live.Version, null, $"live moved from {live.Version} back to {target}", cancellationToken);
            return true;
        }
        catch (ModelAliasConflictException ex)
        {
            logger.LogInformation("Live moved on while republishing after {Version} was refused ({Reason}); leaving it", live.Version, ex.Message);
            return true;
        }
        catch (Exception ex) when (ex is InvalidOperationException or Serverless.Requests.RequestRefusedException || IsTransient(ex))
        {
            logger.LogWarning(ex, "Could not move live back from refused model {Version}", live.Version);
            return false;
        }

        async Task<bool> Republishable(string version) =>
            await registry.GetAsync(version, cancellationToken) is { Status: ModelStatus.Retired or ModelStatus.Approved, SentinelPassed: not false };
    }

    private bool IsRefused(string version)
    {
        lock (refused) { return refused.Contains(version); }
    }

    /// <summary>Persists an alert; a storage failure here is logged, never a reason to stop serving.</summary>
    private async Task AlertAsync(string kind, string version, string? check, string detail, CancellationToken cancellationToken)
    {
        try
        {
            await sentinelAlerts.RaiseAsync(kind, version, check, detail, Source, cancellationToken);
        }
        catch (Exception ex) when (IsTransient(ex))
        {
            logger.LogWarning(ex, "Could not persist the {Kind} alert on {Version}", kind, version);
        }
    }

    /// <summary>This serving instance, as alerts name it.</summary>
    public static string Source { get; } = "serving:" + (Environment.GetEnvironmentVariable("WEBSITE_INSTANCE_ID") is { Length: > 0 } id ? id[..Math.Min(12, id.Length)] : Environment.MachineName);

    /// <summary>A storage failure that says nothing about the model (throttling, a server error, a dropped connection).</summary>
    private static bool IsTransient(Exception ex) =>
        ex is Azure.RequestFailedException { Status: not 404 } or IOException or HttpRequestException;

    private async Task<(SentinelReport Report, ServingBundle? Bundle, bool Transient)> TryLoadAsync(string version, CancellationToken cancellationToken)
    {
        StoredModel? stored;
        try
        {
            stored = await store.DownloadAsync(version, cancellationToken);
        }
        catch (Exception ex) when (IsTransient(ex))
        {
            return (Failed(version, ModelSentinel.ArtifactLoads, $"storage error, will retry: {ex.Message}"), null, true);
        }
        catch (Exception ex) when (ex is InvalidDataException or Azure.RequestFailedException)
        {
            return (Failed(version, ModelSentinel.ArtifactLoads, ex.Message), null, false);
        }

        if (stored is null)
        {
            return (Failed(version, ModelSentinel.ArtifactLoads, "artifact missing from the model store"), null, false);
        }

        // Every dependency the manifest names (the fact snapshot, derived datasets such as title
        // statistics) must be there: the same resolvers the pipeline's Sentinel uses.
        SentinelCheck dependencyCheck;
        IReadOnlyList<Serverless.Sentinel.ResolvedDependency> resolved;
        try
        {
            (dependencyCheck, resolved) = await dependencies.CheckAsync(stored.Manifest, cancellationToken);
        }
        catch (Exception ex) when (IsTransient(ex))
        {
            return (new SentinelReport(version, [new SentinelCheck(DependentDataAvailable, $"storage error, will retry: {ex.Message}", Serverless.Sentinel.DependencyResolvers.Threshold, false)]), null, true);
        }

        if (Serverless.Sentinel.DependencyResolvers.Snapshot(resolved) is not { } snapshot)
        {
            return (new SentinelReport(version, [dependencyCheck.Passed ? dependencyCheck with { Passed = false, Measured = "the manifest names no fact snapshot; " + dependencyCheck.Measured } : dependencyCheck]), null, false);
        }

        var data = ServingData.FromSnapshot(snapshot.Facts, snapshot.Snapshot, encoder.Config);
        var probe = Probe(data, snapshot.Facts);
        var report = ModelSentinel.Check(stored.Load, encoder.ConfigHash, encoder.Names, probe, options.Value, out var accepted);
        report = report with { Checks = [.. report.Checks, dependencyCheck] };
        if (accepted is null)
        {
            return (report, null, false);
        }

        // The feature code in sync: recompute the manifest's golden probes with this instance's encoder
        // and this model; any difference refuses the model and names the features that moved.
        var scorer = new ModelScorer(accepted);
        var codeSync = Serverless.Sentinel.GoldenProbes.Check(stored.Manifest, data, encoder, scorer, snapshot.Facts);
        report = report with { Checks = [.. report.Checks, codeSync] };
        if (!report.Passed)
        {
            scorer.Dispose();
            accepted.Dispose();
            return (report, null, false);
        }

        return (report, new ServingBundle(scorer, data), false);
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

            try
            {
                await Task.Delay(Interval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                // The host is stopping: a normal end, nothing to report.
                return;
            }
        }
    }
}
