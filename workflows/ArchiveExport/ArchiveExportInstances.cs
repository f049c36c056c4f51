using Microsoft.DurableTask.Client;
using Serverless.Archive;

namespace Serverless.Workflows.ArchiveExport;

/// <summary>An export as a caller sees it: its runtime status, where it went once done, and its failure.</summary>
public sealed record ArchiveExportRunState(string Id, string Status, ArchiveExportResult? Result, string? Failure);

/// <summary>An export that was started: its id and the T every page is read as of.</summary>
public sealed record ArchiveExportStarted(string Id, DateTimeOffset AsOf);

/// <summary>Starting and reading archive exports from outside.</summary>
public static class ArchiveExportInstances
{
    /// <summary>Checks the request (400 refusals naming the field) and schedules the export as of now (or its asOf).</summary>
    public static async Task<ArchiveExportStarted> StartAsync(DurableTaskClient client, ExportRequest body, DateTimeOffset now, int maxPageSize, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(body);
        var (member, from, to, asOf, pageSize) = body.Validate(now, maxPageSize);
        var request = new ArchiveExportRequest(member, from, to, asOf, pageSize);
        var id = await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.ArchiveExport, ArchiveExportOrchestrator.Start(request), cancellationToken);
        return new ArchiveExportStarted(id, request.AsOf);
    }

    /// <summary>The export named <paramref name="id"/>: a 400 refusal for a malformed id, 404 when there is none.</summary>
    public static async Task<ArchiveExportRunState> StatusAsync(DurableTaskClient client, string id, CancellationToken cancellationToken = default)
    {
        var state = await DurableInstances.FindAsync(client, id, TaskNames.ArchiveExport, "export", cancellationToken);
        return new ArchiveExportRunState(id, state.RuntimeStatus.ToString(), state.CompletedOutput<ArchiveExportResult>(), state.FailureDetails?.ErrorMessage);
    }
}
