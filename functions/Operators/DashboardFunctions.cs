using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Functions.Http;
using Serverless.Operators;

namespace Serverless.Functions.Operators;

/// <summary>
/// The operator dashboard: static files embedded in this assembly (functions/Operators/dashboard),
/// served by the app itself, the same in Azure and on the local host. The page only calls the
/// app's own HTTP API; nothing comes from elsewhere (its Content-Security-Policy says so too).
/// </summary>
public sealed class DashboardFunctions
{
    public const string ResourcePrefix = "Serverless.Functions.Operators.dashboard.";

    private static readonly Lazy<StaticAssets> Assets = new(() => new StaticAssets(typeof(DashboardFunctions).Assembly, ResourcePrefix));

    /// <summary>GET /api/dashboard/ (the page) and /api/dashboard/{file}.</summary>
    [Function("dashboard")]
    public static IActionResult Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "dashboard/{*path}")] HttpRequest req,
        string? path) =>
        StaticFiles.Serve(req, Assets.Value, path);
}
