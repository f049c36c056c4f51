using System.Net;
using Azure;
using Azure.Data.Tables;

namespace Serverless.Models;

/// <summary>A person's decision on a pipeline's candidate, as recorded once.</summary>
public sealed record RecordedDecision(string Pipeline, bool Approve, string By, string? Reason, DateTimeOffset At);

/// <summary>
/// One decision per pipeline: table "{prefix}decisions", one row per pipeline id, inserted (never
/// upserted) before the approval event is raised. Two decisions sent at once (a double click, two
/// operators) both see the pipeline waiting, but only the first insert succeeds: the second is
/// refused, so a pipeline never receives two decisions. The table is created on first use.
/// </summary>
public sealed class ApprovalDecisions
{
    public const string TableSuffix = "decisions";
    private const string Row = "decision";

    private readonly TableClient table;
    private readonly TimeProvider time;
    private readonly Lazy<Task> created;

    public ApprovalDecisions(TableServiceClient tables, string tablePrefix, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(tablePrefix);
        if (!tablePrefix.All(char.IsAsciiLetterOrDigit) || (tablePrefix.Length > 0 && !char.IsAsciiLetter(tablePrefix[0])) || tablePrefix.Length > 63 - TableSuffix.Length)
        {
            throw new ArgumentException($"Table prefix '{tablePrefix}' must be letters and digits, starting with a letter.", nameof(tablePrefix));
        }

        table = tables.GetTableClient(tablePrefix + TableSuffix);
        this.time = time ?? TimeProvider.System;
        created = new Lazy<Task>(() => table.CreateIfNotExistsAsync());
    }

    /// <summary>Records the decision; returns the one recorded before instead when there was one (and records nothing).</summary>
    public async Task<(RecordedDecision Recorded, bool IsNew)> TryRecordAsync(string pipeline, bool approve, string by, string? reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pipeline);
        ArgumentException.ThrowIfNullOrWhiteSpace(by);
        await created.Value.WaitAsync(cancellationToken);
        var decision = new RecordedDecision(pipeline, approve, by, reason, time.GetUtcNow());
        try
        {
            await table.AddEntityAsync(new TableEntity(Key(pipeline), Row)
            {
                ["Approve"] = approve,
                ["By"] = by,
                ["Reason"] = reason,
                ["At"] = decision.At,
            }, cancellationToken);
            return (decision, true);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            return (await GetAsync(pipeline, cancellationToken) ?? decision, false);
        }
    }

    /// <summary>The decision recorded for <paramref name="pipeline"/>, or null.</summary>
    public async Task<RecordedDecision?> GetAsync(string pipeline, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pipeline);
        await created.Value.WaitAsync(cancellationToken);
        var found = await table.GetEntityIfExistsAsync<TableEntity>(Key(pipeline), Row, cancellationToken: cancellationToken);
        return found.HasValue && found.Value is { } e
            ? new RecordedDecision(pipeline, e.GetBoolean("Approve") ?? false, e.GetString("By") ?? "", e.GetString("Reason"), e.GetDateTimeOffset("At") ?? default)
            : null;
    }

    /// <summary>Forgets a decision that could not be delivered, so it can be sent again.</summary>
    public async Task ForgetAsync(string pipeline, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pipeline);
        await table.DeleteEntityAsync(Key(pipeline), Row, ETag.All, cancellationToken);
    }

    // Instance ids are keys the HTTP layer validated; '/', '\\', '#' and '?' are not allowed in table keys.
    private static string Key(string pipeline) =>
        pipeline.IndexOfAny(['/', '\\', '#', '?']) >= 0 ? throw new ArgumentException($"pipeline id '{pipeline}' is not a valid key", nameof(pipeline)) : pipeline;
}
