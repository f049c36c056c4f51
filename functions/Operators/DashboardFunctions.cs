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
        string? path)
    {
        ArgumentNullException.ThrowIfNull(req);
        if (string.IsNullOrEmpty(path) && req.Path.Value is { } p && !p.EndsWith('/'))
        {
            // The page's relative links (app.js, app.css) need the trailing slash.
            return new RedirectResult(req.PathBase + p + "/" + req.QueryString);
        }

        if (Assets.Value.Find(path) is not { } asset)
        {
            return Problems.NotFound($"the dashboard has no file '{(path is { Length: > 100 } ? path[..100] + "..." : path)}'", req);
        }

        var headers = req.HttpContext.Response.Headers;
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers.ContentSecurityPolicy = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";
        return new FileContentResult(asset.Content, asset.ContentType);
    }
}
