using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Serverless.Archive;

namespace Serverless.Functions.Http;

/// <summary>RFC 7807 problem responses and the mapping from domain refusals to status codes.</summary>
public static class Problems
{
    public static ObjectResult Create(int status, string title, string detail, HttpRequest? request = null) =>
        new(new ProblemDetails
        {
            Status = status,
            Title = title,
            Detail = detail,
            Type = $"https://httpstatuses.io/{status}",
            Instance = request?.Path.Value,
        })
        {
            StatusCode = status,
            ContentTypes = { "application/problem+json" },
        };

    public static ObjectResult BadRequest(string detail, HttpRequest? request = null) =>
        Create(StatusCodes.Status400BadRequest, "Bad request", detail, request);

    public static ObjectResult NotFound(string detail, HttpRequest? request = null) =>
        Create(StatusCodes.Status404NotFound, "Not found", detail, request);

    /// <summary>Runs a handler and turns the domain's refusals into 400/429 problems.</summary>
    public static async Task<IActionResult> Guard(HttpRequest request, Func<Task<IActionResult>> handler)
    {
        try
        {
            return await handler();
        }
        catch (ArchiveQueryException ex)
        {
            return BadRequest(ex.Message, request);
        }
        catch (ArchiveThrottledException ex)
        {
            request.HttpContext.Response.Headers.RetryAfter = Math.Ceiling(ex.RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            return Create(StatusCodes.Status429TooManyRequests, "Too many requests", ex.Message, request);
        }
    }
}
