using System.Globalization;
using System.Runtime.InteropServices;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using Serverless.Archive;
using Serverless.Events;
using Serverless.Facts;
using Serverless.Storage;

namespace Serverless.Lumberjack;

/// <summary>What one feature-log batch did.</summary>
/// <summary>What one feature-log batch did: rows stored or already there, events dead-lettered.</summary>
public sealed record FeatureLogIngestResult(int Stored, int Duplicates, int DeadLettered);

/// <summary>A logged impression with its label, as stored.</summary>
public sealed record LoggedImpression(FeatureLogRecord Record, bool? Label, string? LabelFactId);

/// <summary>
/// The FeatureLog table: one row per scored candidate in the member's partition, keyed by request
/// time, log id and position, so a redelivered record lands on its own row (insert, never overwrite).
/// Labels are added later by <see cref="LabelJoiner"/>.
/// </summary>
public sealed class FeatureLogStore
{
    public const string DeadLetterSource = "feature-log";

    private readonly TimeProvider time;

    public FeatureLogStore(TableServiceClient service, IOptions<ArchiveOptions> archive, ArchiveTables tables, TimeProvider time)
    {
        this.time = time;
        Table = service.GetTableClient(archive.Value.TablePrefix + "featurelog");
        Partitions = new PartitionIndex(Table);
        DeadLetters = tables.DeadLetters;
        Parallelism = archive.Value.IngestParallelism;
    }

    public TableClient Table { get; }

    /// <summary>
    /// The members with logged impressions (rows of partition "index" in the same table), so the
    /// label joiner reaches members the archive has no facts for (cold starts: all their impressions are negatives).
    /// </summary>
    public PartitionIndex Partitions { get; }

    private DeadLetterStore DeadLetters { get; }

    private int Parallelism { get; }

    public Task EnsureCreatedAsync(CancellationToken cancellationToken = default) => Table.CreateIfNotExistsAsync(cancellationToken);

    public async Task<FeatureLogIngestResult> IngestAsync(IReadOnlyList<IncomingEvent> events, CancellationToken cancellationToken = default)
    {
        var rows = new List<TableEntity>(events.Count);
        var rejected = new List<(DeadLetter, string)>();
        foreach (var e in events)
        {
            var (records, error) = FeatureLogEvent.Parse(e.Body.Span);
            if (records is null)
            {
                rejected.Add(DeadLetterStore.Letter(DeadLetterSource, e, error!, time.GetUtcNow()));
            }
            else
            {
                rows.AddRange(records.Select(ToEntity));
            }
        }

        var unique = rows.DistinctBy(r => (r.PartitionKey, r.RowKey)).ToList();
        await Partitions.RegisterAsync(unique.Select(r => r.PartitionKey), cancellationToken);
        var stored = await IdempotentInserts.InsertAllAsync(Table, unique, Parallelism, cancellationToken);
        if (rejected.Count > 0)
        {
            await DeadLetters.WriteAsync(rejected, cancellationToken);
        }

        return new FeatureLogIngestResult(stored, rows.Count - stored, rejected.Count);
    }

    public static string RowKey(FeatureLogRecord r) =>
        string.Create(CultureInfo.InvariantCulture, $"{r.RequestTime.UtcTicks:D19}_{r.LogId}_{r.Position:D4}");

    public static TableEntity ToEntity(FeatureLogRecord r) => new(FactPartition.ForMember(r.Member), RowKey(r))
    {
        [nameof(FeatureLogRecord.LogId)] = r.LogId,
        [nameof(FeatureLogRecord.RequestTime)] = r.RequestTime,
        [nameof(FeatureLogRecord.Member)] = r.Member,
        [nameof(FeatureLogRecord.Title)] = r.Title,
        [nameof(FeatureLogRecord.Position)] = r.Position,
        [nameof(FeatureLogRecord.ModelVersion)] = r.ModelVersion,
        [nameof(FeatureLogRecord.ConfigHash)] = r.ConfigHash,
        [nameof(FeatureLogRecord.Features)] = MemoryMarshal.AsBytes(r.Features.AsSpan()).ToArray(),
        [nameof(FeatureLogRecord.Score)] = (double)r.Score,
        [nameof(FeatureLogRecord.Watermark)] = r.Watermark,
        [nameof(FeatureLogRecord.Fallback)] = r.Fallback,
        ["Labelled"] = false,
    };

    public static LoggedImpression FromEntity(TableEntity e)
    {
        var bytes = e.GetBinary(nameof(FeatureLogRecord.Features));
        var record = new FeatureLogRecord(
            e.GetString(nameof(FeatureLogRecord.LogId)),
            e.GetDateTimeOffset(nameof(FeatureLogRecord.RequestTime))!.Value,
            e.GetString(nameof(FeatureLogRecord.Member)),
            e.GetString(nameof(FeatureLogRecord.Title)),
            e.GetInt32(nameof(FeatureLogRecord.Position)) ?? 0,
            e.GetString(nameof(FeatureLogRecord.ModelVersion)),
            e.GetString(nameof(FeatureLogRecord.ConfigHash)),
            MemoryMarshal.Cast<byte, float>(bytes).ToArray(),
            (float)(e.GetDouble(nameof(FeatureLogRecord.Score)) ?? 0),
            e.GetDateTimeOffset(nameof(FeatureLogRecord.Watermark))!.Value,
            e.GetBoolean(nameof(FeatureLogRecord.Fallback)) ?? false);
        return new LoggedImpression(record, e.GetBoolean("Labelled") == true ? e.GetBoolean("Label") : null, e.GetString("LabelFactId"));
    }

    /// <summary>A member's logged impressions with request time in [from, to].</summary>
    public async Task<List<TableEntity>> ForMemberAsync(string member, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var rows = new List<TableEntity>();
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {FactPartition.ForMember(member)} and RequestTime ge {from} and RequestTime le {to}");
        await foreach (var row in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            rows.Add(row);
        }

        return rows;
    }

    /// <summary>A member's impressions up to <paramref name="now"/> that are unlabelled or were requested after <paramref name="relabelFrom"/>.</summary>
    public async Task<List<TableEntity>> DueForLabelsAsync(string member, DateTimeOffset relabelFrom, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = new List<TableEntity>();
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {FactPartition.ForMember(member)} and RequestTime le {now} and (Labelled eq {false} or RequestTime ge {relabelFrom})");
        await foreach (var row in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            rows.Add(row);
        }

        return rows;
    }

    /// <summary>Every labelled impression logged with <paramref name="configHash"/> (a training set of what was served).</summary>
    public async Task<List<LoggedImpression>> LabelledAsync(string configHash, CancellationToken cancellationToken)
    {
        var rows = new List<LoggedImpression>();
        await foreach (var row in Table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"Labelled eq {true} and ConfigHash eq {configHash}"), cancellationToken: cancellationToken))
        {
            rows.Add(FromEntity(row));
        }

        return rows;
    }
}
