using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Access;
using Serverless.Functions.Http;
using Serverless.Models;
using Serverless.Requests;
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
    public Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "models/{version}")] HttpRequest req,
        string version) =>
        Problems.Guard(req, async () =>
        {
            ModelRequests.Version(version);
            var ct = req.HttpContext.RequestAborted;
            var record = await registry.GetAsync(version, ct) ?? throw new ModelNotFoundException($"model version '{version}' is not registered");
            var live = await registry.GetLiveAsync(ct);
            return new OkObjectResult(new
            {
                record,
                isLive = live?.Version == version,
                history = await registry.GetStatusHistoryAsync(version, ct),
                sentinel = await sentinel.GetReportAsync(version, ct),
            });
        });

    /// <summary>POST /api/models/rollback (admin): a signed-in person with the Approver role points live back at the previous version.</summary>
    [Function("models-rollback")]
    public Task<IActionResult> Rollback(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "models/rollback")] HttpRequest req) =>
        Problems.Guard(req, async () =>
        {
            var by = req.RequireRole(OperatorRoles.Approver).Identity;
            var body = (await JsonBody.ReadAsync(req, 4 * 1024, new RollbackRequest(null, null)))!.Validate();
            try
            {
                return new OkObjectResult(await registry.RollbackAsync(body.ReasonBy(by), body.ExpectedLive, by, req.HttpContext.RequestAborted));
            }
            catch (InvalidOperationException ex) when (ex is not ModelAliasConflictException)
            {
                // Nothing to go back to, or the previous version was rejected since.
                throw RequestRefusedException.Conflict(ex.Message);
            }
        });
}
