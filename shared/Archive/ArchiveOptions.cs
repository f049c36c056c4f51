using System.ComponentModel.DataAnnotations;

namespace Serverless.Archive;

/// <summary>Settings of the Online Archive (configuration section "Archive").</summary>
public sealed class ArchiveOptions
{
    public const string Section = "Archive";

    /// <summary>Prefix for the archive's table names (lets tests and tenants share one account).</summary>
    [RegularExpression("^[A-Za-z][A-Za-z0-9]{0,30}$|^$")]
    public string TablePrefix { get; set; } = "";

    /// <summary>Largest "limit" the live history interface serves.</summary>
    [Range(1, 1000)]
    public int LiveMaxLimit { get; set; } = 200;

    /// <summary>Pages per second the batch interface may read, across all callers of one instance.</summary>
    [Range(0.1, 10_000)]
    public double BatchPagesPerSecond { get; set; } = 10;

    /// <summary>Batch pages read at the same time on one instance.</summary>
    [Range(1, 64)]
    public int BatchMaxConcurrency { get; set; } = 1;

    /// <summary>Batch page requests that may wait for a permit; beyond that callers get 429.</summary>
    [Range(0, 10_000)]
    public int BatchQueueLimit { get; set; } = 16;

    /// <summary>Largest batch page size.</summary>
    [Range(1, 1000)]
    public int BatchMaxPageSize { get; set; } = 200;

    /// <summary>How far an event time may lie after its ingest time.</summary>
    public TimeSpan MaxFutureSkew { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Table transactions in flight while ingesting one batch.</summary>
    [Range(1, 64)]
    public int IngestParallelism { get; set; } = 4;

    /// <summary>
    /// Current facts a member's recent-history entity holds at most (the live interface's one-read
    /// path): the serving history limit (500) plus a margin for facts ingested while a read is under
    /// way. A live read wanting more than the entity holds goes to the fact rows.
    /// </summary>
    [Range(1, 10_000)]
    public int RecentHistoryCap { get; set; } = 512;

    /// <summary>The development value of <see cref="ContinuationKey"/>; Azure gets a generated secret (infra-bicep).</summary>
    public const string DevelopmentContinuationKey = "local-development-only-continuation-key";

    /// <summary>
    /// The secret that signs the batch interface's continuation tokens (HMAC-SHA256), so a token
    /// altered anywhere is refused. At least 16 characters. Instances serving one archive share it;
    /// changing it invalidates the tokens issued before (callers start their walk again).
    /// </summary>
    [MinLength(16)]
    public string ContinuationKey { get; set; } = DevelopmentContinuationKey;

    public byte[] ContinuationKeyBytes => System.Text.Encoding.UTF8.GetBytes(ContinuationKey);

    public string FactsTable => TablePrefix + "facts";

    public string DeadLetterTable => TablePrefix + "deadletters";

    public string PartitionTable => TablePrefix + "partitions";

    /// <summary>The ingest journal's index (one row per landed file).</summary>
    public string JournalTable => TablePrefix + "factjournal";

    /// <summary>The ingest journal's files (a bulk copy of the facts stream).</summary>
    public string JournalContainer => TablePrefix.ToLowerInvariant() + "factjournal";

    /// <summary>The blob container holding dead-lettered payloads too large for a table property.</summary>
    public string DeadLetterContainer => TablePrefix.ToLowerInvariant() + "deadletters";
}
