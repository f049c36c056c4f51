using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Serverless.Tests.Fixtures;
using Serverless.Workflows;
using Serverless.Workflows.ArchiveExport;

namespace Serverless.Tests.Workflows;

/// <summary>The export orchestrator on the in-process Durable Task host, with real replay and the real activity on Azurite.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class ArchiveExportOrchestratorTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task A_long_export_continues_as_new_and_writes_every_fact_once()
    {
        using var h = new ArchiveHarness(azurite);
        var pages = ArchiveExportOrchestrator.PagesPerGeneration + 5;
        await h.Archive.IngestAsync(Enumerable.Range(0, pages).Select(i => h.Event(ArchiveHarness.Rating(i % 3, i, 4, ArchiveHarness.Start.AddDays(-1).AddMinutes(i)))).ToList());
        var activity = new ExportArchivePageActivity(h.Reader, azurite.Blobs());

        await using var host = await InProcessDurableHost.StartAsync(registry =>
        {
            registry.AddOrchestrator<ArchiveExportOrchestrator>();
            registry.AddActivity(activity);
        });
        Assert.Equal(TaskNames.ArchiveExport, nameof(ArchiveExportOrchestrator));

        var request = new ArchiveExportRequest(null, null, null, h.Clock.GetUtcNow(), PageSize: 1);
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.ArchiveExport, ArchiveExportOrchestrator.Start(request));
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var done = await host.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
        var result = done.ReadOutputAs<ArchiveExportResult>()!;
        Assert.Equal(pages, result.Facts);
        // One extra page: the last full page still carries a continuation that yields an empty page.
        Assert.InRange(result.Parts, pages, pages + 1);

        var container = azurite.Blobs().GetBlobContainerClient(ArchiveExportOrchestrator.Container);
        var blobs = new List<string>();
        await foreach (var blob in container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, id + "/", default)) { blobs.Add(blob.Name); }
        Assert.Equal(result.Parts, blobs.Count);
    }
}
