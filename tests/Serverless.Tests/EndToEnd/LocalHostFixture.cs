using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Serverless.LocalHost;
using Serverless.LocalHost.Hub;
using Serverless.LocalHost.Replay;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.EndToEnd;

/// <summary>
/// The whole app on the local host (Kestrel on a free loopback port, in-memory Durable Task,
/// in-process hub) over a fresh set of tables in the shared Azurite, driven over HTTP.
/// </summary>
public sealed class LocalHostFixture : IAsyncDisposable
{
    private LocalHostFixture(WebApplication app, HttpClient http, ReplayClock clock)
    {
        App = app;
        Http = http;
        Clock = clock;
    }

    /// <summary>The development identity every fixture host signs requests in as (unless a test configures another): an Approver.</summary>
    public const string DeveloperName = "Dev Operator";

    public const string DeveloperObjectId = "11111111-2222-3333-4444-555555555555";

    public WebApplication App { get; }
    public HttpClient Http { get; }
    public ReplayClock Clock { get; }
    public LocalEventHub Hub => App.Services.GetRequiredService<LocalEventHub>();

    public static async Task<LocalHostFixture> StartAsync(AzuriteFixture azurite, DateTimeOffset clockStart, IDictionary<string, string?>? configuration = null)
    {
        var clock = new ReplayClock(clockStart);
        var config = new Dictionary<string, string?>
        {
            ["Archive:TablePrefix"] = azurite.NewPrefix(), ["Archive:BatchPagesPerSecond"] = "200", ["Archive:BatchMaxConcurrency"] = "2",
            ["LocalHost:DevelopmentIdentity:Name"] = DeveloperName, ["LocalHost:DevelopmentIdentity:ObjectId"] = DeveloperObjectId,
            ["LocalHost:DevelopmentIdentity:Roles"] = Serverless.Access.OperatorRoles.Approver,

            // Tests share two cores, and a cold Azurite's first reads can take longer than serving's 250 ms:
            // a generous history deadline keeps the Substitute out of tests that are not about it (those that are set their own).
            ["Serving:Deadline"] = "00:00:05",
            // Likewise health's history-read p99 limit (100 ms): a loaded test box passes it with nothing wrong
            // (ServingHealthTests prove the limit itself).
            ["Health:MaxHistoryReadP99"] = "00:00:05",
        };
        foreach (var (k, v) in configuration ?? new Dictionary<string, string?>()) { config[k] = v; }
        var app = LocalFunctionHost.Build(new LocalHostSettings
        {
            StorageConnectionString = azurite.ConnectionString,
            Port = 0,
            Time = clock,
            Hub = new LocalHubOptions { MaxWait = TimeSpan.FromMilliseconds(5) },
            Configuration = config,
        });
        await app.StartAsync();
        return new LocalHostFixture(app, new HttpClient { BaseAddress = LocalFunctionHost.BaseAddress(app) }, clock);
    }

    /// <summary>Publishes through the local hub's HTTP endpoint and waits until the triggers have checkpointed.</summary>
    public async Task PublishFactsAsync(IEnumerable<(string Key, object Body)> events)
    {
        var response = await Http.PostAsJsonAsync("local/hubs/facts", events.Select(e => new { partitionKey = e.Key, body = e.Body }).ToList());
        response.EnsureSuccessStatusCode();
        await Hub.WaitForIdleAsync(TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
