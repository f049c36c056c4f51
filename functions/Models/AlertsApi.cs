using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Functions.Http;
using Serverless.Sentinel;

namespace Serverless.Functions.Models;

/// <summary>Operators: the Sentinel's persisted alerts (failed checks, rejected or expired candidates, loader refusals, republishes).</summary>
public sealed class AlertsApi(SentinelAlerts alerts)
{
    /// <summary>GET /api/alerts?limit=100&amp;version=...&amp;kind=...: the newest alerts first.</summary>
    [Function("alerts-list")]
    public Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "alerts")] HttpRequest req) =>
        Problems.Guard(req, async () =>
        {
            var query = AlertsQuery.From(req.QueryParameters());
            var list = await alerts.ListAsync(query.Limit, query.Version, query.Kind, req.HttpContext.RequestAborted);
            return new OkObjectResult(new { count = list.Count, alerts = list });
        });
}
