using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Archive;
using Serverless.Functions.Http;

namespace Serverless.Functions.Archive;

/// <summary>The Online Archive over HTTP: the live interface and the throttled batch interface.</summary>
public sealed class ArchiveApi(ArchiveReader reader, ArchiveTables tables, ArchiveOptions options)
{
    [Function("archive-history")]
    public Task<IActionResult> History(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "archive/members/{member}/history")] HttpRequest req, string member) =>
        Problems.Guard(req, async () =>
        {
            var (m, limit, asOf) = ArchiveRequests.History(member, req.QueryParameters(), options);
            var facts = await reader.HistoryAsync(m, limit, asOf, req.HttpContext.RequestAborted);
            return new OkObjectResult(new { member = m, facts = facts.Select(FactView.From) });
        });

    [Function("archive-title")]
    public Task<IActionResult> Title(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "archive/titles/{title}")] HttpRequest req, string title) =>
        Problems.Guard(req, async () =>
        {
            var (t, asOf) = ArchiveRequests.Catalog(title, req.QueryParameters());
            var entry = await reader.CatalogEntryAsync(t, asOf, req.HttpContext.RequestAborted);
            return entry is null
                ? Problems.NotFound($"no catalog entry for title '{t}'", req)
                : new OkObjectResult(FactView.From(entry));
        });

    [Function("archive-facts")]
    public Task<IActionResult> Facts(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "archive/facts")] HttpRequest req) =>
        Problems.Guard(req, async () =>
        {
            var page = await reader.BatchAsync(ArchiveRequests.Batch(req.QueryParameters(), options), req.HttpContext.RequestAborted);
            return new OkObjectResult(new { asOf = page.AsOf, facts = page.Facts.Select(FactView.From), continuation = page.Continuation });
        });

    [Function("archive-deadletters")]
    public Task<IActionResult> DeadLetters(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "archive/deadletters")] HttpRequest req) =>
        Problems.Guard(req, async () =>
        {
            var (source, limit) = ArchiveRequests.DeadLetters(req.QueryParameters());
            return new OkObjectResult(await tables.DeadLetters.ReadAsync(source, limit, req.HttpContext.RequestAborted));
        });
}
