using Azure.Core;
using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using Serverless.Hosting;

namespace Serverless.Functions.Telemetry;

/// <summary>Where telemetry goes: the Application Insights component and the identity that may write to it.</summary>
public sealed record TelemetryExport(string ConnectionString, TokenCredential? Credential);

/// <summary>
/// The worker's telemetry: logs, traces (function invocations) and metrics (the worker's and
/// <see cref="PlatformMetrics"/>) through OpenTelemetry to Application Insights with the Azure Monitor
/// exporter, signed in with the app's managed identity, as the Bicep configures it
/// (<c>APPLICATIONINSIGHTS_CONNECTION_STRING</c>, <c>APPLICATIONINSIGHTS_AUTHENTICATION_STRING</c> =
/// <c>ClientId=...;Authorization=AAD</c>; the component refuses keys). Without a connection string, as on
/// the local host and in tests, nothing is registered and nothing is exported.
/// </summary>
public static class TelemetryServices
{
    public const string ConnectionStringSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";
    public const string AuthenticationStringSetting = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING";

    public static IServiceCollection AddPlatformTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        if (Export(configuration) is not { } export)
        {
            return services;
        }

        services.AddOpenTelemetry()
            .UseFunctionsWorkerDefaults()
            .WithMetrics(metrics => metrics.AddMeter(PlatformMetrics.MeterName))
            .UseAzureMonitorExporter(options =>
            {
                options.ConnectionString = export.ConnectionString;
                options.Credential = export.Credential;
            });
        return services;
    }

    /// <summary>
    /// The export the settings ask for, or null when no connection string is set. An authentication string
    /// with <c>Authorization=AAD</c> signs in with the managed identity (user-assigned when it names a
    /// <c>ClientId</c>); any other authorization is refused rather than sent without a token.
    /// </summary>
    public static TelemetryExport? Export(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var connectionString = configuration[ConnectionStringSetting];
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return null;
        }

        var authentication = configuration[AuthenticationStringSetting];
        if (string.IsNullOrWhiteSpace(authentication))
        {
            return new TelemetryExport(connectionString, null);
        }

        var parts = authentication.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.Split('=', 2, StringSplitOptions.TrimEntries))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1], StringComparer.OrdinalIgnoreCase);
        if (!string.Equals(parts.GetValueOrDefault("Authorization"), "AAD", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"{AuthenticationStringSetting} must say Authorization=AAD (and the identity's ClientId); it says '{authentication}'");
        }

        var credential = parts.GetValueOrDefault("ClientId") is { Length: > 0 } clientId
            ? new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId))
            : new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned);
        return new TelemetryExport(connectionString, credential);
    }
}
