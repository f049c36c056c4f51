using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Serverless.Operators;

namespace Serverless.Functions.Http;

/// <summary>Serves an embedded static site (<see cref="StaticAssets"/>) over HTTP: the page, its files, and nothing else.</summary>
public static class StaticFiles
{
    /// <summary>What the page may load: only the app itself (no CDN, no inline script).</summary>
    public const string ContentSecurityPolicy = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

    /// <summary>
    /// The file at <paramref name="path"/> (empty: the page), not cached without revalidation, with a
    /// content security policy; the site's root without its trailing slash redirects to it (the page's
    /// relative links need it); any other path is a 404 problem.
    /// </summary>
    public static IActionResult Serve(HttpRequest request, StaticAssets assets, string? path)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(assets);
        if (string.IsNullOrEmpty(path) && request.Path.Value is { } p && !p.EndsWith('/'))
        {
            return new RedirectResult(request.PathBase + p + "/" + request.QueryString);
        }

        if (assets.Find(path) is not { } asset)
        {
            return Problems.NotFound($"the dashboard has no file '{(path is { Length: > 100 } ? path[..100] + "..." : path)}'", request);
        }

        var headers = request.HttpContext.Response.Headers;
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        return new FileContentResult(asset.Content, asset.ContentType);
    }
}
