using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Functions.Http;
using Serverless.Ranking;

namespace Serverless.Functions.Ranking;

/// <summary>Serving: rank titles for a member, and report what this instance serves.</summary>
public sealed class RankApi(RankService ranking, LiveModel live, ServingHealth health)
{
    private const int MaxBodyBytes = 64 * 1024;

    [Function("rank")]
    public Task<IActionResult> Rank(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "rank")] HttpRequest req) =>
        Problems.Guard(req, async () =>
            new OkObjectResult(await ranking.RankAsync(await JsonBody.ReadAsync<RankRequest>(req, MaxBodyBytes), req.HttpContext.RequestAborted)));

    /// <summary>200 when the instance serves as it should, 503 with the reasons when not (the body is the same report either way).</summary>
    [Function("health")]
    public IActionResult Health([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequest req)
    {
        var report = health.Check();
        return new ObjectResult(report) { StatusCode = report.Healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable };
    }

    /// <summary>Operators: check the registry's live alias now instead of at the next poll.</summary>
    [Function("models-refresh")]
    public async Task<IActionResult> Refresh([HttpTrigger(AuthorizationLevel.Admin, "post", Route = "models/refresh")] HttpRequest req)
    {
        var report = await live.RefreshAsync(req.HttpContext.RequestAborted);
        return new OkObjectResult(new { model = live.Current?.Manifest.Version, checkedVersion = report?.Version, sentinel = report });
    }
}
