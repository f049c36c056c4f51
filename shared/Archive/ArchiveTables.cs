using Azure.Data.Tables;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;

namespace Serverless.Archive;

/// <summary>The archive's tables. Live and batch reads use separate clients so batch work can be pointed elsewhere.</summary>
public sealed class ArchiveTables
{
    private readonly TimeProvider time;

    public ArchiveTables(TableServiceClient service, BlobServiceClient blobs, IOptions<ArchiveOptions> options, TimeProvider? time = null)
    {
        var o = options.Value;
        this.time = time ?? TimeProvider.System;
        Facts = service.GetTableClient(o.FactsTable);
        DeadLetters = new DeadLetterStore(service.GetTableClient(o.DeadLetterTable), blobs.GetBlobContainerClient(o.DeadLetterContainer));
        Partitions = new PartitionIndex(service.GetTableClient(o.PartitionTable));
        Recent = new RecentHistoryStore(Facts, o.RecentHistoryCap);
        Journal = new FactJournal(service.GetTableClient(o.JournalTable), blobs.GetBlobContainerClient(o.JournalContainer));
    }

    public TableClient Facts { get; }

    public DeadLetterStore DeadLetters { get; }

    public PartitionIndex Partitions { get; }

    /// <summary>The members' recent-history entities (in the facts table, one per member partition).</summary>
    public RecentHistoryStore Recent { get; }

    /// <summary>The ingest journal: a bulk copy of what ingestion stored, for offline reads of what changed.</summary>
    public FactJournal Journal { get; }

    public async Task EnsureCreatedAsync(CancellationToken cancellationToken = default)
    {
        await Facts.CreateIfNotExistsAsync(cancellationToken);
        await DeadLetters.Table.CreateIfNotExistsAsync(cancellationToken);
        await DeadLetters.Payloads.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        await Partitions.Table.CreateIfNotExistsAsync(cancellationToken);
        await Journal.EnsureCreatedAsync(Partitions, time.GetUtcNow(), cancellationToken);
    }
}
