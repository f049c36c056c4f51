using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Serverless.Archive;
using Serverless.Events;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.Precompute;
using Serverless.Ranking;
using Serverless.TimeMachine;
using Serverless.Training;
using Serverless.Storage;

namespace Serverless.Hosting;

/// <summary>The composition root of the platform, shared by the Functions app and the local host.</summary>
public static class PlatformServices
{
    /// <summary>The configuration section of <see cref="Serverless.Models.SentinelOptions"/> (Sentinel__*).</summary>
    public const string SentinelSection = "Sentinel";

    public static IServiceCollection AddServerlessPlatform(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton(TimeProvider.System);
        // Whether the X-MS-CLIENT-PRINCIPAL header is believed: in App Service only with its authentication on.
        services.TryAddSingleton(Serverless.Access.ClientPrincipalTrust.From(key => configuration[key]));
        // Operators' counters as metrics on one meter (exported by the Functions app when Application Insights is configured).
        services.AddMetrics();
        services.TryAddSingleton<PlatformMetrics>();
        services.AddOptions<ArchiveOptions>().BindConfiguration(ArchiveOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddStorageClients(configuration);

        services.AddSingleton(sp => new FactValidator(new FactLimits { MaxFutureSkew = sp.GetRequiredService<IOptions<ArchiveOptions>>().Value.MaxFutureSkew }));
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<ArchiveOptions>>().Value);
        services.AddSingleton<ArchiveTables>();
        services.AddSingleton<BatchThrottle>();
        services.AddSingleton<FactArchive>();
        services.AddSingleton<ArchiveReader>();
        services.AddSingleton<ILiveHistory>(sp => sp.GetRequiredService<ArchiveReader>());
        services.AddHostedService<StorageInitializer>();

        services.AddOptions<LumberjackOptions>().BindConfiguration(LumberjackOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<FeatureLogStore>();
        services.AddSingleton<FeatureLogBuffer>();
        services.AddHostedService(sp => sp.GetRequiredService<FeatureLogBuffer>());
        services.AddSingleton<LabelJoiner>();

        // One feature code path: the same encoder (and config hash) for serving, training and the Sentinel.
        services.AddSingleton(new FeatureEncoder(FeatureConfig.Default));
        services.AddSingleton(sp => new FactSnapshotStore(sp.GetRequiredService<Azure.Storage.Blobs.BlobServiceClient>()));
        services.AddSingleton(sp => new ModelStore(sp.GetRequiredService<Azure.Storage.Blobs.BlobServiceClient>()));
        services.AddSingleton(sp => new ModelRegistry(
            sp.GetRequiredService<Azure.Data.Tables.TableServiceClient>(), sp.GetRequiredService<IOptions<ArchiveOptions>>().Value.TablePrefix, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<LiveModel>();
        services.AddHostedService<LiveModelRefresher>();
        services.AddOptions<ServingOptions>().BindConfiguration(ServingOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<MemberHistoryCache>();
        services.AddSingleton<ServingMonitor>();
        services.AddSingleton<RankService>();
        services.AddOptions<HealthOptions>().BindConfiguration(HealthOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ServingHealth>();
        services.AddSingleton<IncrementalSnapshots>();
        services.AddSingleton<TrainingJob>();
        services.AddSingleton<SkewMeter>();
        services.AddOptions<TimeMachineOptions>().BindConfiguration(TimeMachineOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ContextSnapshotter>();

        // The Hulk: versioned derived data (title statistics, similar titles, member top-N) and its lookups.
        services.AddOptions<PrecomputeOptions>().BindConfiguration(PrecomputeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => new DerivedVersionRegistry(
            sp.GetRequiredService<Azure.Data.Tables.TableServiceClient>(), sp.GetRequiredService<IOptions<ArchiveOptions>>().Value.TablePrefix, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new DerivedDataStore(sp.GetRequiredService<Azure.Storage.Blobs.BlobServiceClient>()));
        services.AddSingleton<PrecomputeWorker>();
        services.AddSingleton<TitleStatsVersions>();
        services.AddSingleton<ServingTitleStats>();
        services.AddSingleton<PrecomputedLookups>();
        services.AddSingleton<DerivedDataCleanup>();
        services.AddHostedService<DerivedDataInitializer>();
        services.AddHostedService<DerivedDataRefresher>();
        services.AddOptions<Serverless.Models.SentinelOptions>().BindConfiguration(SentinelSection)
            .Validate(o => { try { o.Validate(); return true; } catch (ArgumentException) { return false; } }, "a Sentinel__* setting is out of range (ranges: docs/deploy.md)")
            .ValidateOnStart();
        services.AddSingleton<Serverless.Sentinel.IDependencyResolver, Serverless.Sentinel.SnapshotDependencyResolver>();
        foreach (var dataset in DerivedDatasets.All)
        {
            services.AddSingleton<Serverless.Sentinel.IDependencyResolver>(sp => new Serverless.Sentinel.DerivedDependencyResolver(
                dataset, sp.GetRequiredService<DerivedVersionRegistry>(), sp.GetRequiredService<DerivedDataStore>()));
        }

        services.AddSingleton<Serverless.Sentinel.DependencyResolvers>();
        services.AddSingleton<Serverless.Sentinel.CandidateValidator>();
        services.AddSingleton<Serverless.Sentinel.ModelCatalog>();
        services.AddSingleton(sp => new Serverless.Sentinel.SentinelAlerts(
            sp.GetRequiredService<Azure.Data.Tables.TableServiceClient>(), sp.GetRequiredService<IOptions<ArchiveOptions>>().Value.TablePrefix,
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<Serverless.Sentinel.SentinelAlerts>>(), sp.GetRequiredService<PlatformMetrics>()));

        var hubs = configuration.GetSection(AppSettings.EventHubs);
        if (hubs["fullyQualifiedNamespace"] is { Length: > 0 } fqns)
        {
            services.TryAddSingleton<IEventPublisher>(sp =>
                new EventHubsPublisher(fqns, StorageClients.Credential(hubs)));
        }

        return services;
    }
}

/// <summary>Creates the app's tables and containers (archive, feature log, models, registry) when it starts.</summary>
internal sealed class StorageInitializer(ArchiveTables tables, FeatureLogStore featureLog, ModelStore models, ModelRegistry registry, Serverless.Sentinel.SentinelAlerts alerts) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await tables.EnsureCreatedAsync(cancellationToken);
        await featureLog.EnsureCreatedAsync(cancellationToken);
        await models.EnsureCreatedAsync(cancellationToken);
        await registry.EnsureCreatedAsync(cancellationToken);
        await alerts.EnsureCreatedAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
