using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Functions.Http;
using Serverless.Models;
using Serverless.Sentinel;

namespace Serverless.Functions.Models;

/// <summary>Operators: the registered versions with their Sentinel reports, and rolling the live model back along its publish chain.</summary>
public sealed class ModelsApi(ModelRegistry registry, CandidateValidator sentinel)
{
    /// <summary>GET /api/models: every version with its status, and which is live and previous.</summary>
    [Function("models-list")]
    public async Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "models")] HttpRequest req)
    {
        var ct = req.HttpContext.RequestAborted;
        var live = await registry.GetLiveAsync(ct);
        var versions = (await registry.ListAsync(ct)).OrderByDescending(r => r.CreatedAt).ThenBy(r => r.Version, StringComparer.Ordinal).ToList();
        return new OkObjectResult(new
        {
            live = live?.Version,
            previous = live?.Previous,
            versions = versions.Select(r => new
            {
                r.Version,
                status = r.Status.ToString(),
                r.StatusReason,
                r.StatusChangedAt,
                r.Trainer,
                r.SentinelPassed,
                auc = r.Metrics.TryGetValue(ModelMetricNames.Auc, out var auc) ? auc : (double?)null,
                r.CreatedAt,
                isLive = r.Version == live?.Version,
                isPrevious = r.Version == live?.Previous,
            }),
        });
    }

    /// <summary>GET /api/models/{version}: the registry record, its status history and the whole Sentinel report.</summary>
    [Function("models-get")]
    public async Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "models/{version}")] HttpRequest req,
        string version)
    {
        if (!ModelVersion.IsValid(version))
        {
            return Problems.BadRequest($"version must be 1-{ModelVersion.MaxLength} characters of A-Z, a-z, 0-9, '.', '_' or '-'", req);
        }

        var ct = req.HttpContext.RequestAborted;
        var record = await registry.GetAsync(version, ct);
        if (record is null)
        {
            return Problems.NotFound($"model version '{version}' is not registered", req);
        }

        var live = await registry.GetLiveAsync(ct);
        return new OkObjectResult(new
        {
            record,
            isLive = live?.Version == version,
            history = await registry.GetStatusHistoryAsync(version, ct),
            sentinel = await sentinel.GetReportAsync(version, ct),
        });
    }

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
