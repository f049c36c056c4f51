using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Features;

namespace Serverless.Functions.Operators;

/// <summary>Operators: the serving encoder's feature names in vector order (what a Sentinel report's per-feature plots are indexed by).</summary>
public sealed class FeaturesApi(FeatureEncoder encoder)
{
    /// <summary>GET /api/features: the feature config hash and the feature names, in the order of every vector.</summary>
    [Function("features")]
    public IActionResult Get(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "features")] HttpRequest req) =>
        new OkObjectResult(new { configHash = encoder.ConfigHash, names = encoder.Names });
}
