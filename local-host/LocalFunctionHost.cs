using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serverless.Events;
using Serverless.Functions.Archive;
using Serverless.Hosting;
using Serverless.LocalHost.Functions;
using Serverless.LocalHost.Hub;
using Serverless.Lumberjack;

namespace Serverless.LocalHost;

/// <summary>What the local host needs: where storage is, which port, which clock.</summary>
public sealed class LocalHostSettings
{
    /// <summary>An Azurite (or Azure Storage) connection string.</summary>
    public required string StorageConnectionString { get; init; }

    /// <summary>HTTP port on 127.0.0.1; 0 picks a free one.</summary>
    public int Port { get; init; } = 7071;

    public LocalHubOptions Hub { get; init; } = new();

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Extra configuration (e.g. Archive:TablePrefix), as app settings would give it.</summary>
    public IDictionary<string, string?> Configuration { get; init; } = new Dictionary<string, string?>();

    /// <summary>Defaults below every other source: the environment, the command line and <see cref="Configuration"/> override them.</summary>
    public IDictionary<string, string?> Defaults { get; init; } = new Dictionary<string, string?>();
}

/// <summary>
/// Runs the Functions app on one machine without Core Tools: the same [Function] methods, found by
/// reflection, behind Kestrel (HTTP), the in-memory Durable Task backend (orchestrators and
/// activities), and the in-process partitioned hub (Event Hub triggers).
/// </summary>
public static class LocalFunctionHost
{
    public static WebApplication Build(LocalHostSettings settings, string[]? args = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args ?? [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [AppSettings.Storage] = settings.StorageConnectionString,
            [AppSettings.EventHubs] = "local",
            [AppSettings.DurableTaskHubName] = "local",
            // The local host fills X-MS-CLIENT-PRINCIPAL from its development identity: the header is believed here.
            [Serverless.Access.ClientPrincipalTrust.TrustSetting] = "true",
        });
        builder.Configuration.AddInMemoryCollection(settings.Configuration);
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = settings.Defaults });
        builder.Logging.AddFilter("Azure", LogLevel.Error)
            .AddFilter("Microsoft.AspNetCore", LogLevel.Warning)
            .AddFilter("Microsoft.DurableTask", LogLevel.Warning)
            .AddFilter("Grpc", LogLevel.Warning);
        var port = settings.Port == 0 ? FreePort() : settings.Port;
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(5));

        builder.Services.AddSingleton(settings.Time);

        // The hub is registered as a hosted service before the platform's, so it stops after them:
        // the feature-log buffer publishes what it holds, then the hub drains and reports what is left.
        builder.Services.AddSingleton(settings.Hub);
        builder.Services.AddSingleton<LocalEventHub>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LocalEventHub>());
        builder.Services.AddSingleton<IEventPublisher>(sp => sp.GetRequiredService<LocalEventHub>());
        builder.Services.AddSingleton<IFeatureLogLag, LocalFeatureLogLag>();
        builder.Services.AddServerlessPlatform(builder.Configuration);
        builder.Services.AddMvcCore();

        var functions = FunctionCatalog.Discover(typeof(FactsIngestion).Assembly);
        builder.Services.AddSingleton(new HostedFunctions(functions));
        IServiceProvider? root = null;
        builder.Services.AddInMemoryDurableTask(
            registry => DurableFunctions.Register(registry, functions, () => root ?? throw new InvalidOperationException("the local host has not started")),
            new InMemoryDurableTaskOptions { Port = FreePort() });
        builder.Services.AddHostedService<EventHubFunctionConsumers>();
        builder.Services.AddSingleton(new Timers.WallClock(TimeProvider.System));
        builder.Services.AddHostedService<Timers.TimerFunctionScheduler>();

        var app = builder.Build();
        root = app.Services;
        HttpFunctionEndpoints.Map(app, functions);
        MapLocalEndpoints(app);
        return app;
    }

    /// <summary>The base address the host listens on, once started.</summary>
    public static Uri BaseAddress(WebApplication app) => new(app.Urls.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/");

    /// <summary>Local-only endpoints (not Functions): publish to the in-process hub and read its counters.</summary>
    private static void MapLocalEndpoints(WebApplication app)
    {
        app.MapGet("/local/hubs", (LocalEventHub hub) => Results.Ok(hub.Stats()));
        app.MapPost("/local/hubs/{hub}", async (string hub, HttpRequest request, LocalEventHub local) =>
        {
            if (hub is not (Hubs.Facts or Hubs.FeatureLog))
            {
                return Results.Problem(statusCode: 404, detail: $"no hub '{hub}' (known: {Hubs.Facts}, {Hubs.FeatureLog})");
            }

            List<LocalEventBody>? events;
            try
            {
                events = await JsonSerializer.DeserializeAsync<List<LocalEventBody>>(request.Body, JsonSerializerOptions.Web, request.HttpContext.RequestAborted);
            }
            catch (JsonException ex)
            {
                return Results.Problem(statusCode: 400, detail: $"malformed JSON: {ex.Message}");
            }

            if (events is null || events.Count is 0 or > 10_000 || events.Any(e => string.IsNullOrEmpty(e.PartitionKey) || e.Body.ValueKind == JsonValueKind.Undefined))
            {
                return Results.Problem(statusCode: 400, detail: "send 1..10000 events as [{\"partitionKey\": \"...\", \"body\": {...}}]");
            }

            await local.PublishAsync(hub, events.Select(e => new OutgoingEvent(e.PartitionKey!, JsonSerializer.SerializeToUtf8Bytes(e.Body))).ToList());
            return Results.Accepted(value: new { published = events.Count });
        });
    }

    private sealed record LocalEventBody(string? PartitionKey, JsonElement Body);

    /// <summary>A loopback port nothing listens on right now, chosen by the operating system.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
