using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace Serverless.Functions.Http;

/// <summary>
/// The HTTP API's contract: the OpenAPI 3 document of every HTTP function (docs/openapi.json,
/// embedded in this assembly), checked against the generated functions.metadata by a test.
/// </summary>
public sealed class ApiContract
{
    public const string ResourceName = "Serverless.Functions.openapi.json";

    private static readonly Lazy<byte[]> Document = new(() =>
    {
        using var stream = typeof(ApiContract).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the OpenAPI document is not embedded as {ResourceName}");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    /// <summary>The OpenAPI document as checked in.</summary>
    public static ReadOnlyMemory<byte> OpenApiDocument => Document.Value;

    [Function("openapi")]
    public static IActionResult OpenApi(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "openapi.json")] HttpRequest req) =>
        new FileContentResult(Document.Value, "application/json");
}
