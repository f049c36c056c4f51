using System.Globalization;
using System.Security.Cryptography;
using Azure.Data.Tables;

namespace Serverless.Archive;

/// <summary>An event that could not be accepted, with why, kept with its raw payload.</summary>
public sealed record DeadLetter(
    string Source,
    string Reason,
    string Payload,
    DateTimeOffset EnqueuedTime,
    long SequenceNumber,
    DateTimeOffset RecordedAt);

/// <summary>
/// The dead-letter table. Keys are derived from the event (enqueued time, sequence number and a hash
/// of the payload) so a redelivered bad event overwrites its own record instead of adding another.
/// </summary>
public sealed class DeadLetterStore(TableClient table)
{
    /// <summary>Table properties hold at most 32K characters; longer payloads are cut and marked.</summary>
    public const int MaxStoredPayloadChars = 30_000;

    public TableClient Table => table;

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
        }
        catch (System.Text.DecoderFallbackException)
        {
            text = "base64:" + Convert.ToBase64String(payload);
        }

        return (new DeadLetter(source, reason, text, e.EnqueuedTime, e.SequenceNumber, recordedAt), RowKeyFor(e.EnqueuedTime, e.SequenceNumber, payload));
    }

    public async Task WriteAsync(IReadOnlyList<(DeadLetter Letter, string RowKey)> letters, CancellationToken cancellationToken)
    {
        foreach (var chunk in letters.Chunk(100))
        {
            var actions = chunk.Select(l => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(l.Letter.Source, l.RowKey)
            {
                [nameof(DeadLetter.Reason)] = l.Letter.Reason,
                [nameof(DeadLetter.Payload)] = l.Letter.Payload.Length <= MaxStoredPayloadChars
                    ? l.Letter.Payload
                    : l.Letter.Payload[..MaxStoredPayloadChars] + "...(truncated)",
                [nameof(DeadLetter.EnqueuedTime)] = l.Letter.EnqueuedTime,
                [nameof(DeadLetter.SequenceNumber)] = l.Letter.SequenceNumber,
                [nameof(DeadLetter.RecordedAt)] = l.Letter.RecordedAt,
            })).ToList();
            await table.SubmitTransactionAsync(actions, cancellationToken);
        }
    }

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
                e.GetDateTimeOffset(nameof(DeadLetter.RecordedAt)) ?? default));
            if (result.Count >= max)
            {
                break;
            }
        }

        return result;
    }
}
