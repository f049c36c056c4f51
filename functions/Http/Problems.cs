using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Serverless.Requests;

namespace Serverless.Functions.Http;

/// <summary>
/// RFC 7807 problem responses, and the one place where refusals become them: the domain's refusal
/// family (<see cref="RequestRefusedException"/>: bad input, unknown things, conflicts, throttling,
/// missing or insufficient identity; the model registry's not-found and conflict exceptions are
/// members of it). Anything else is a fault (500), never shown to the caller.
/// </summary>
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

    /// <summary>The problem a refusal answers with (and its Retry-After, when it has one).</summary>
    public static ObjectResult From(RequestRefusedException refusal, HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        ArgumentNullException.ThrowIfNull(request);
        if (refusal.RetryAfter is { } wait)
        {
            request.HttpContext.Response.Headers.RetryAfter = Math.Max(1, Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        if (refusal.Status == StatusCodes.Status401Unauthorized)
        {
            request.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
        }

        return Create(refusal.Status, RequestRefusedException.TitleOf(refusal.Status), refusal.Message, request);
    }

    /// <summary>The refusal an exception stands for, or null when it is a fault (a 500).</summary>
    public static RequestRefusedException? Refusal(Exception exception) => exception as RequestRefusedException;

    /// <summary>Runs a handler and turns every refusal it throws into its problem response.</summary>
    public static async Task<IActionResult> Guard(HttpRequest request, Func<Task<IActionResult>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        try
        {
            return await handler();
        }
        catch (Exception ex) when (Refusal(ex) is { } refusal)
        {
            return From(refusal, request);
        }
    }

    /// <summary>Runs a handler whose answer is a 200 with its body, turning refusals into problems.</summary>
    public static Task<IActionResult> Ok<T>(HttpRequest request, Func<Task<T>> handler) =>
        Guard(request, async () => new OkObjectResult(await handler()));
}
