using System.Globalization;
using System.Text.Json;
using Azure.Storage.Blobs;
using Microsoft.DurableTask;
using Serverless.Archive;
using Serverless.Facts;

namespace Serverless.Workflows.ArchiveExport;

/// <summary>
/// Reads one batch page and writes it as one JSON-lines blob named by export id and part number,
/// so a retried page overwrites its own blob and never duplicates facts.
/// </summary>
public sealed class ExportArchivePageActivity(ArchiveReader reader, BlobServiceClient blobs)
    : TaskActivity<ExportPageInput, ExportPageResult>
{
    public override async Task<ExportPageResult> RunAsync(TaskActivityContext context, ExportPageInput input)
    {
        var r = input.Request;
        var page = await reader.BatchPatientlyAsync(new BatchQuery(r.Member, null, null, r.From, r.To, r.AsOf, false, r.PageSize, input.Continuation));

        var container = blobs.GetBlobContainerClient(ArchiveExportOrchestrator.Container);
        await container.CreateIfNotExistsAsync();
        var name = string.Create(CultureInfo.InvariantCulture, $"{input.ExportId}/part-{input.Part:D5}.jsonl");
        using var body = new MemoryStream();
        foreach (var fact in page.Facts)
        {
            JsonSerializer.Serialize(body, FactView.From(fact), FactJson.Options);
            body.WriteByte((byte)'\n');
        }

        body.Position = 0;
        await container.GetBlobClient(name).UploadAsync(body, overwrite: true);
        return new ExportPageResult(name, page.Facts.Count, page.Continuation);
    }
}
