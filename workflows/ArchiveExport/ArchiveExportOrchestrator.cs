using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;

namespace Serverless.Workflows.ArchiveExport;

/// <summary>
/// Pages through the archive's batch interface, one activity per page (each page a blob), so a long
/// export is resumable and its history stays small (continue-as-new every <see cref="PagesPerGeneration"/> pages).
/// Activities retry with backoff when the batch interface is throttled.
/// </summary>
public sealed class ArchiveExportOrchestrator : TaskOrchestrator<ArchiveExportState, ArchiveExportResult>
{
    public const int PagesPerGeneration = 50;
    public const string Container = "exports";

    private static readonly TaskOptions PageRetry = TaskOptions.FromRetryPolicy(new RetryPolicy(
        maxNumberOfAttempts: 8, firstRetryInterval: TimeSpan.FromSeconds(1), backoffCoefficient: 2, maxRetryInterval: TimeSpan.FromSeconds(30)));

    public override async Task<ArchiveExportResult> RunAsync(TaskOrchestrationContext context, ArchiveExportState input)
    {
        var log = context.CreateReplaySafeLogger<ArchiveExportOrchestrator>();
        var state = input;
        for (var i = 0; i < PagesPerGeneration; i++)
        {
            var page = await context.CallActivityAsync<ExportPageResult>(
                TaskNames.ExportArchivePage, new ExportPageInput(context.InstanceId, state.Request, state.Continuation, state.Part), PageRetry);
            state = state with { Continuation = page.Continuation, Part = state.Part + 1, Facts = state.Facts + page.Facts };
            if (page.Continuation is null)
            {
                log.LogInformation("Archive export {Id} wrote {Facts} facts in {Parts} parts", context.InstanceId, state.Facts, state.Part);
                return new ArchiveExportResult(Container, context.InstanceId + "/", state.Part, state.Facts, state.Request.AsOf);
            }
        }

        context.ContinueAsNew(state);
        return null!;
    }

    /// <summary>The first state of an export.</summary>
    public static ArchiveExportState Start(ArchiveExportRequest request) => new(request, null, 0, 0);
}
