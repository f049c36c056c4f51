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
    public async Task<IActionResult> Rank(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "rank")] HttpRequest req)
    {
        var (body, problem) = await JsonBody.ReadAsync<RankRequest>(req, MaxBodyBytes);
        if (problem is not null)
        {
            return problem;
        }

        try
        {
            return new OkObjectResult(await ranking.RankAsync(body, req.HttpContext.RequestAborted));
        }
        catch (RankRefusedException ex)
        {
            return Problems.Create(ex.Status, ex.Status == 400 ? "Bad request" : "Service unavailable", ex.Message, req);
        }
    }

    /// <summary>200 when the instance serves as it should, 503 with the reasons when not (the body is the same report either way).</summary>
    [Function("health")]
    public IActionResult Health([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequest req)
    {
        var report = health.Check();
        return new ObjectResult(report) { StatusCode = report.Healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable };
    }

    /// <summary>Operators: check the registry's live alias now instead of at the next poll.</summary>
    [Function("models-refresh")]
    public async Task<IActionResult> Refresh([HttpTrigger(AuthorizationLevel.Function, "post", Route = "models/refresh")] HttpRequest req)
    {
        var report = await live.RefreshAsync(req.HttpContext.RequestAborted);
        return new OkObjectResult(new { model = live.Current?.Manifest.Version, checkedVersion = report?.Version, sentinel = report });
    }
}
