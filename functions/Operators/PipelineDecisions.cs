using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Functions.Http;
using Serverless.Models;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Functions.Operators;

/// <summary>Delivers a person's decision to a pipeline at most once (see <see cref="ApprovalDecisions"/>).</summary>
public static class PipelineDecisions
{
    /// <summary>
    /// Records the decision, then raises it with <paramref name="raise"/>; null when delivered. A pipeline
    /// that already has a decision gets a 409 naming it. A decision that could not be raised is forgotten again.
    /// </summary>
    public static async Task<IActionResult?> DeliverOnceAsync(HttpRequest req, string id, ApprovalDecision decision, Func<Task> raise)
    {
        ArgumentNullException.ThrowIfNull(req);
        ArgumentNullException.ThrowIfNull(decision);
        ArgumentNullException.ThrowIfNull(raise);
        var decisions = req.HttpContext.RequestServices.GetRequiredService<ApprovalDecisions>();
        var (recorded, isNew) = await decisions.TryRecordAsync(id, decision.Approve, decision.By, decision.Reason, req.HttpContext.RequestAborted);
        if (!isNew)
        {
            return Problems.Create(StatusCodes.Status409Conflict, "Conflict",
                $"pipeline '{id}' already has a decision: {(recorded.Approve ? "approved" : "rejected")} by {recorded.By} at {recorded.At:O}", req);
        }

        try
        {
            await raise();
            return null;
        }
        catch
        {
            await decisions.ForgetAsync(id, CancellationToken.None);
            throw;
        }
    }
}
