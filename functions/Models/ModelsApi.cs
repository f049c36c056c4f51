using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Functions.Http;
using Serverless.Models;

namespace Serverless.Functions.Models;

/// <summary>Operators: roll the live model back along its publish chain.</summary>
public sealed class ModelsApi(ModelRegistry registry)
{
    /// <summary>Body of POST /api/models/rollback.</summary>
    public sealed record RollbackBody(string? ExpectedLive, string? By, string? Reason);

    [Function("models-rollback")]
    public async Task<IActionResult> Rollback(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "models/rollback")] HttpRequest req)
    {
        var (body, problem) = await JsonBody.ReadAsync<RollbackBody>(req, 4 * 1024);
        if (problem is not null)
        {
            return problem;
        }

        if (body is null || string.IsNullOrWhiteSpace(body.By) || body.By.Length > 200 || body.Reason is { Length: > 1000 })
        {
            return Problems.BadRequest("a body {\"by\": \"who\" (1..200 characters), \"reason\"?: (at most 1000), \"expectedLive\"?: \"the version you expect to roll back\"} is required", req);
        }

        try
        {
            var reason = $"rolled back by {body.By}" + (body.Reason is { Length: > 0 } r ? $": {r}" : "");
            return new OkObjectResult(await registry.RollbackAsync(reason, body.ExpectedLive, req.HttpContext.RequestAborted));
        }
        catch (ArgumentException ex)
        {
            return Problems.BadRequest(ex.Message, req);
        }
        catch (ModelNotFoundException ex)
        {
            return Problems.NotFound(ex.Message, req);
        }
        catch (InvalidOperationException ex)
        {
            // Nothing to go back to, the previous version was rejected since, or live moved on (ModelAliasConflictException).
            return Problems.Create(StatusCodes.Status409Conflict, "Conflict", ex.Message, req);
        }
    }
}
