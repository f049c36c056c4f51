using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Access;
using Serverless.Functions.Http;
using Serverless.Models;
using Serverless.Sentinel;

namespace Serverless.Functions.Models;

/// <summary>Operators: the registered versions with their Sentinel reports, and rolling the live model back along its publish chain.</summary>
public sealed class ModelsApi(ModelCatalog catalog)
{
    /// <summary>GET /api/models: every version with its status, and which is live and previous.</summary>
    [Function("models-list")]
    public Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "models")] HttpRequest req) =>
        Problems.Ok(req, () => catalog.ListAsync(req.QueryParameters(), req.HttpContext.RequestAborted));

    /// <summary>GET /api/models/{version}: the registry record, its status history and the whole Sentinel report.</summary>
    [Function("models-get")]
    public Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "models/{version}")] HttpRequest req,
        string version) =>
        Problems.Ok(req, () => catalog.GetAsync(version, req.QueryParameters(), req.HttpContext.RequestAborted));

    /// <summary>POST /api/models/rollback (admin): a signed-in person with the Approver role points live back at the previous version.</summary>
    [Function("models-rollback")]
    public Task<IActionResult> Rollback(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "models/rollback")] HttpRequest req) =>
        Problems.Ok(req, async () =>
        {
            var by = req.RequireRole(OperatorRoles.Approver);
            return await catalog.RollbackAsync((await JsonBody.ReadAsync(req, 4 * 1024, RollbackRequest.Empty))!, by, req.HttpContext.RequestAborted);
        });
}
