using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Functions.Http;
using Serverless.Models;
using Serverless.Sentinel;

namespace Serverless.Functions.Models;

/// <summary>Operators: the Sentinel's persisted alerts (failed checks, rejected or expired candidates, loader refusals, republishes).</summary>
public sealed class AlertsApi(SentinelAlerts alerts)
{
    /// <summary>GET /api/alerts?limit=100&amp;version=...&amp;kind=...: the newest alerts first.</summary>
    [Function("alerts-list")]
    public async Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "alerts")] HttpRequest req)
    {
        var limit = 100;
        if (req.Query["limit"].ToString() is { Length: > 0 } raw
            && (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > SentinelAlerts.MaxList))
        {
            return Problems.BadRequest($"limit must be an integer 1..{SentinelAlerts.MaxList}", req);
        }

        var version = req.Query["version"].ToString() is { Length: > 0 } v ? v : null;
        if (version is not null && !ModelVersion.IsValid(version))
        {
            return Problems.BadRequest($"version must be 1-{ModelVersion.MaxLength} characters of A-Z, a-z, 0-9, '.', '_' or '-'", req);
        }

        var kind = req.Query["kind"].ToString() is { Length: > 0 } k ? k : null;
        if (kind is not null && !AlertKinds.All.Contains(kind, StringComparer.Ordinal))
        {
            return Problems.BadRequest($"kind must be one of {string.Join(", ", AlertKinds.All)}", req);
        }

        var list = await alerts.ListAsync(limit, version, kind, req.HttpContext.RequestAborted);
        return new OkObjectResult(new { count = list.Count, alerts = list });
    }
}
