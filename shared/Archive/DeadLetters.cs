using System.Globalization;
using System.Security.Cryptography;
using Azure.Data.Tables;
using Azure.Storage.Blobs;

namespace Serverless.Archive;

/// <summary>
/// An event that could not be accepted, with why, kept with its raw payload: as text in
/// <see cref="Payload"/>, or, when too large for a table property, whole (the raw bytes) in the
/// blob <see cref="PayloadBlob"/> of the dead-letter container, with the start of it in <see cref="Payload"/>.
/// </summary>
public sealed record DeadLetter(
    string Source,
    string Reason,
    string Payload,
    DateTimeOffset EnqueuedTime,
    long SequenceNumber,
    DateTimeOffset RecordedAt,
    string? PayloadBlob = null);

/// <summary>
/// The dead-letter table. Keys are derived from the event (enqueued time, sequence number and a hash
/// of the payload) so a redelivered bad event overwrites its own record instead of adding another.
/// A payload longer than a table property holds is kept whole in a blob named after the row
/// (uploaded before the row is written, so a row never names a missing blob): a refused event can
/// always be replayed (<see cref="PayloadAsync"/>).
/// </summary>
public sealed class DeadLetterStore(TableClient table, BlobContainerClient payloads)
{
    /// <summary>Table properties hold at most 32K characters; longer payloads go whole to a blob.</summary>
    public const int MaxStoredPayloadChars = 30_000;

    /// <summary>What the row keeps of a payload kept in a blob (its start, for reading).</summary>
    public const int PreviewChars = 1_000;

    public TableClient Table => table;

    public BlobContainerClient Payloads => payloads;

    public static string BlobName(string source, string rowKey) => $"{source}/{rowKey}";

    public static string RowKeyFor(DateTimeOffset enqueuedTime, long sequenceNumber, ReadOnlySpan<byte> payload)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(payload, hash);
        return string.Create(CultureInfo.InvariantCulture,
            $"{enqueuedTime.UtcTicks:D19}_{sequenceNumber:D19}_{Convert.ToHexStringLower(hash[..6])}");
    }

    /// <summary>
    /// A refused event as a dead letter with its key: the payload as text (base64 when it is not
    /// UTF-8), keyed by the event so redelivery overwrites it.
    /// </summary>
    public static (DeadLetter Letter, string RowKey) Letter(string source, Events.IncomingEvent e, string reason, DateTimeOffset recordedAt)
    {
        var payload = e.Body.Span;
        string text;
        try
        {
            text = new System.Text.UTF8Encoding(false, true).GetString(payload);
            if (text.StartsWith("base64:", StringComparison.Ordinal))
            {
                text = "base64:" + Convert.ToBase64String(payload);
            }
        }
        catch (System.Text.DecoderFallbackException)
        {
            text = "base64:" + Convert.ToBase64String(payload);
        }

        return (new DeadLetter(source, reason, text, e.EnqueuedTime, e.SequenceNumber, recordedAt), RowKeyFor(e.EnqueuedTime, e.SequenceNumber, payload));
    }

    public async Task WriteAsync(IReadOnlyList<(DeadLetter Letter, string RowKey)> letters, CancellationToken cancellationToken)
    {
        foreach (var chunk in letters.Chunk(Storage.TableBatches.MaxActions))
        {
            var entities = new List<TableEntity>(chunk.Length);
            foreach (var (letter, rowKey) in chunk)
            {
                var entity = new TableEntity(letter.Source, rowKey)
                {
                    [nameof(DeadLetter.Reason)] = letter.Reason,
                    [nameof(DeadLetter.Payload)] = letter.Payload,
                    [nameof(DeadLetter.EnqueuedTime)] = letter.EnqueuedTime,
                    [nameof(DeadLetter.SequenceNumber)] = letter.SequenceNumber,
                    [nameof(DeadLetter.RecordedAt)] = letter.RecordedAt,
                };
                if (letter.Payload.Length > MaxStoredPayloadChars)
                {
                    var name = BlobName(letter.Source, rowKey);
                    await payloads.GetBlobClient(name).UploadAsync(BinaryData.FromBytes(RawBytes(letter.Payload)), overwrite: true, cancellationToken);
                    entity[nameof(DeadLetter.Payload)] = letter.Payload[..PreviewChars] + $"...(the whole payload is in blob {name})";
                    entity[nameof(DeadLetter.PayloadBlob)] = name;
                }

                entities.Add(entity);
            }

            await table.SubmitTransactionAsync(entities.Select(e => new TableTransactionAction(TableTransactionActionType.UpsertReplace, e)), cancellationToken);
        }
    }

    /// <summary>The raw payload of a dead letter, exactly as it was received (from its blob when it was large), for replay.</summary>
    public async Task<byte[]> PayloadAsync(DeadLetter letter, CancellationToken cancellationToken)
    {
        if (letter.PayloadBlob is { } name)
        {
            var content = await payloads.GetBlobClient(name).DownloadContentAsync(cancellationToken);
            return content.Value.Content.ToArray();
        }

        return RawBytes(letter.Payload);
    }

    private static byte[] RawBytes(string payload) =>
        payload.StartsWith("base64:", StringComparison.Ordinal) ? Convert.FromBase64String(payload["base64:".Length..]) : System.Text.Encoding.UTF8.GetBytes(payload);

    public async Task<IReadOnlyList<DeadLetter>> ReadAsync(string source, int max, CancellationToken cancellationToken)
    {
        var result = new List<DeadLetter>();
        await foreach (var e in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {source}"), maxPerPage: Math.Min(max, 1000), cancellationToken: cancellationToken))
        {
            result.Add(new DeadLetter(
                e.PartitionKey,
                e.GetString(nameof(DeadLetter.Reason)),
                e.GetString(nameof(DeadLetter.Payload)),
                e.GetDateTimeOffset(nameof(DeadLetter.EnqueuedTime)) ?? default,
                e.GetInt64(nameof(DeadLetter.SequenceNumber)) ?? 0,
                e.GetDateTimeOffset(nameof(DeadLetter.RecordedAt)) ?? default,
                e.GetString(nameof(DeadLetter.PayloadBlob))));
            if (result.Count >= max)
            {
                break;
            }
        }

        return result;
    }
}
