using System.Globalization;
using System.Net;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;

namespace Serverless.Models;

/// <summary>Where a model version stands (a name on the wire). Only publish/rollback make a version Live or move it off Live.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<ModelStatus>))]
public enum ModelStatus
{
    Candidate,
    Approved,
    Rejected,
    Live,
    Retired,
}

/// <summary>A registry row: the manifest summary and the version's status.</summary>
public sealed record ModelRecord(
    string Version,
    ModelStatus Status,
    string? StatusReason,
    DateTimeOffset StatusChangedAt,
    TrainerKind Trainer,
    string FeatureConfigHash,
    int FeatureCount,
    IReadOnlyDictionary<string, double> Metrics,
    DateTimeOffset TrainedFrom,
    DateTimeOffset TrainedTo,
    DateTimeOffset CreatedAt,
    long ExampleCount,
    string MlNetVersion,
    string? PublishedOver)
{
    /// <summary>The pipeline Sentinel's verdict (null: not validated by it).</summary>
    public bool? SentinelPassed { get; init; }
}

/// <summary>One status change of a version: what, who or what decided, why, when.</summary>
/// <param name="ByObjectId">The Entra object id of the person who decided, when a signed-in person did (approvals, rollbacks).</param>
public sealed record StatusChange(string Version, ModelStatus Status, string? By, string? Reason, DateTimeOffset At, string? ByObjectId = null);

/// <summary>The "live" alias: the version serving traffic and the one a rollback returns to.</summary>
public sealed record LiveAlias(string Version, string? Previous, long Sequence, DateTimeOffset ChangedAt);

/// <summary>How the live alias changed (a name on the wire).</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<AliasChangeKind>))]
public enum AliasChangeKind
{
    Publish,
    Rollback,
}

/// <summary>One change of the "live" alias, kept forever in the registry.</summary>
public sealed record AliasChange(long Sequence, AliasChangeKind Kind, string? From, string To, DateTimeOffset At, string? Reason);

/// <summary>
/// The model registry: table "{prefix}models", one partition holding a row per version
/// ("version:{v}"), the alias row ("alias:live") and the alias history ("history:live:{sequence}").
/// Keeping them in one partition makes publish and rollback one entity-group transaction: the alias
/// swap (guarded by its ETag), the history row and both status changes commit together or not at all.
/// Rollback follows the publish chain: C replaced B replaced A, so rolling back from C gives B, then A.
/// </summary>
public sealed class ModelRegistry
{
    public const string TableSuffix = "models";
    public const string LiveAliasName = "live";
    private const string Partition = "registry";
    private const string VersionPrefix = "version:";
    private const string VersionPrefixEnd = "version;";
    private const string AliasRow = "alias:" + LiveAliasName;
    private const string HistoryPrefix = "history:" + LiveAliasName + ":";
    private const string HistoryPrefixEnd = "history:" + LiveAliasName + ";";
    private const string StatusPrefix = "status:";
    private const string DecisionPrefix = "decision:";

    private readonly TableClient table;
    private readonly TimeProvider time;

    public ModelRegistry(TableServiceClient tables, string tablePrefix, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(tablePrefix);
        if (!tablePrefix.All(char.IsAsciiLetterOrDigit) || (tablePrefix.Length > 0 && !char.IsAsciiLetter(tablePrefix[0])) || tablePrefix.Length > 63 - TableSuffix.Length)
        {
            throw new ArgumentException($"Table prefix '{tablePrefix}' must be letters and digits, starting with a letter.", nameof(tablePrefix));
        }

        table = tables.GetTableClient(tablePrefix + TableSuffix);
        this.time = time ?? TimeProvider.System;
    }

    public TableClient Table => table;

    public async Task EnsureCreatedAsync(CancellationToken cancellationToken = default) => await table.CreateIfNotExistsAsync(cancellationToken);

    /// <summary>Who a registration is recorded as when no requester is named.</summary>
    public const string DefaultRequester = "training";

    /// <summary>Adds a version as a Candidate; throws <see cref="ModelVersionExistsException"/> if it is registered already.</summary>
    public Task<ModelRecord> RegisterAsync(ModelManifest manifest, CancellationToken cancellationToken = default) =>
        RegisterAsync(manifest, DefaultRequester, cancellationToken);

    /// <summary>As <see cref="RegisterAsync(ModelManifest, CancellationToken)"/>, recording who requested it in the status history.</summary>
    public Task<ModelRecord> RegisterAsync(ModelManifest manifest, string requestedBy, CancellationToken cancellationToken = default) =>
        RegisterAsync(manifest, requestedBy, null, cancellationToken);

    /// <summary>As <see cref="RegisterAsync(ModelManifest, string, CancellationToken)"/>, with the requester's Entra object id when a signed-in person asked.</summary>
    public async Task<ModelRecord> RegisterAsync(ModelManifest manifest, string requestedBy, string? requestedByObjectId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(requestedBy);
        ArgumentNullException.ThrowIfNull(manifest);
        var version = ModelVersion.Validate(manifest.Version, nameof(manifest));
        var now = time.GetUtcNow();
        var row = new TableEntity(Partition, VersionPrefix + version)
        {
            [Columns.Status] = nameof(ModelStatus.Candidate),
            [Columns.StatusChangedAt] = now,
            [Columns.Trainer] = manifest.Trainer.ToString(),
            [Columns.FeatureConfigHash] = manifest.FeatureConfigHash,
            [Columns.FeatureCount] = manifest.FeatureNames.Count,
            [Columns.Metrics] = JsonSerializer.Serialize(manifest.Metrics, ModelJson.Options),
            [Columns.TrainedFrom] = manifest.TrainedFrom,
            [Columns.TrainedTo] = manifest.TrainedTo,
            [Columns.CreatedAt] = manifest.CreatedAt,
            [Columns.ExampleCount] = manifest.ExampleCount,
            [Columns.MlNetVersion] = manifest.MlNetVersion,
        };
        if (manifest.Metrics.TryGetValue(ModelMetricNames.Auc, out var auc))
        {
            row[Columns.Auc] = auc;
        }

        try
        {
            await table.SubmitTransactionAsync(
            [
                new(TableTransactionActionType.Add, row),
                new(TableTransactionActionType.Add, StatusRow(version, ModelStatus.Candidate, requestedBy, "registered", now, requestedByObjectId)),
            ], cancellationToken);
        }
        catch (TableTransactionFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            throw new ModelVersionExistsException($"Model version '{version}' is already registered; versions are immutable.", ex);
        }

        return ToRecord(row);
    }

    public async Task<ModelRecord?> GetAsync(string version, CancellationToken cancellationToken = default)
    {
        var row = await FindAsync(VersionPrefix + ModelVersion.Validate(version), cancellationToken);
        return row is null ? null : ToRecord(row);
    }

    /// <summary>Every registered version, in version order.</summary>
    public async Task<IReadOnlyList<ModelRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and RowKey ge {VersionPrefix} and RowKey lt {VersionPrefixEnd}");
        var result = new List<ModelRecord>();
        await foreach (var row in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            result.Add(ToRecord(row));
        }

        return result;
    }

    /// <summary>
    /// Records a verdict on a version that is not live: Approved (after the Sentinel and a person
    /// agreed) or Rejected. Live and Retired are set only by publish and rollback.
    /// </summary>
    public Task<ModelRecord> SetStatusAsync(string version, ModelStatus status, string? reason = null, CancellationToken cancellationToken = default) =>
        SetStatusAsync(version, status, reason, (string?)null, cancellationToken);

    /// <summary>As <see cref="SetStatusAsync(string, ModelStatus, string?, CancellationToken)"/>, recording who decided in the status history.</summary>
    public Task<ModelRecord> SetStatusAsync(string version, ModelStatus status, string? reason, string? by, CancellationToken cancellationToken = default) =>
        SetStatusAsync(version, status, reason, by, null, cancellationToken);

    /// <summary>As <see cref="SetStatusAsync(string, ModelStatus, string?, CancellationToken)"/>, recording who decided: a signed-in person's name and object id.</summary>
    public Task<ModelRecord> SetStatusAsync(string version, ModelStatus status, string? reason, string? by, string? byObjectId, CancellationToken cancellationToken = default) =>
        SetStatusAsync(version, status, reason, by, byObjectId, expected: null, cancellationToken);

    /// <summary>
    /// As <see cref="SetStatusAsync(string, ModelStatus, string?, string?, string?, CancellationToken)"/>, but
    /// only while the version is <paramref name="expected"/> (when given): the status read and the write
    /// are one ETag-guarded step, so a change that lands in between (a rejection while an approval is
    /// being written) wins. Throws <see cref="ModelStatusConflictException"/> naming the status found,
    /// and <see cref="ModelAliasConflictException"/> when the row changed between read and write.
    /// </summary>
    public async Task<ModelRecord> SetStatusAsync(string version, ModelStatus status, string? reason, string? by, string? byObjectId, ModelStatus? expected, CancellationToken cancellationToken = default)
    {
        if (status is not (ModelStatus.Approved or ModelStatus.Rejected))
        {
            throw new ArgumentException($"Only Approved or Rejected can be set directly; {status} comes from publish/rollback.", nameof(status));
        }

        var row = await FindAsync(VersionPrefix + ModelVersion.Validate(version), cancellationToken)
            ?? throw new ModelNotFoundException($"Model version '{version}' is not registered.");
        if (expected is { } wanted && Status(row) != wanted)
        {
            throw new ModelStatusConflictException(
                $"Model version '{version}' is {Status(row)} ({Optional(row, Columns.StatusReason) ?? "no reason given"}), not {wanted}: it was not set {status}.");
        }

        if (Status(row) == ModelStatus.Live)
        {
            throw new InvalidOperationException($"Model version '{version}' is live; publish another version or roll back first.");
        }

        var now = time.GetUtcNow();
        var update = new TableEntity(Partition, row.RowKey)
        {
            [Columns.Status] = status.ToString(),
            [Columns.StatusReason] = reason ?? string.Empty,
            [Columns.StatusChangedAt] = now,
        };
        try
        {
            await table.SubmitTransactionAsync(
            [
                new(TableTransactionActionType.UpdateMerge, update, row.ETag),
                new(TableTransactionActionType.UpsertReplace, StatusRow(version, status, by, reason, now, byObjectId)),
            ], cancellationToken);
        }
        catch (TableTransactionFailedException ex) when (ex.Status == (int)HttpStatusCode.PreconditionFailed)
        {
            throw new ModelAliasConflictException($"Model version '{version}' changed while its status was being set; re-read and retry.", ex);
        }

        return (await GetAsync(version, cancellationToken))!;
    }

    /// <summary>
    /// Records the pipeline Sentinel's verdict on a Candidate; a failure also rejects it (with the
    /// failed checks as the reason). Throws <see cref="InvalidOperationException"/> unless it is a Candidate.
    /// </summary>
    public async Task<ModelRecord> RecordSentinelAsync(string version, bool passed, string summary, CancellationToken cancellationToken = default)
    {
        var row = await FindAsync(VersionPrefix + ModelVersion.Validate(version), cancellationToken)
            ?? throw new ModelNotFoundException($"Model version '{version}' is not registered.");
        if (Status(row) != ModelStatus.Candidate)
        {
            throw new InvalidOperationException($"Model version '{version}' is {Status(row)}; only a Candidate is validated.");
        }

        var now = time.GetUtcNow();
        var update = new TableEntity(Partition, row.RowKey) { [Columns.SentinelPassed] = passed };
        var actions = new List<TableTransactionAction> { new(TableTransactionActionType.UpdateMerge, update, row.ETag) };
        if (!passed)
        {
            update[Columns.Status] = nameof(ModelStatus.Rejected);
            update[Columns.StatusReason] = "sentinel: " + summary;
            update[Columns.StatusChangedAt] = now;
            actions.Add(new(TableTransactionActionType.UpsertReplace, StatusRow(version, ModelStatus.Rejected, "sentinel", summary, now)));
        }

        await table.SubmitTransactionAsync(actions, cancellationToken);
        return (await GetAsync(version, cancellationToken))!;
    }

    /// <summary>Every status change of <paramref name="version"/>, oldest first (who requested, approved or rejected it, why, when).</summary>
    public async Task<IReadOnlyList<StatusChange>> GetStatusHistoryAsync(string version, CancellationToken cancellationToken = default)
    {
        var prefix = StatusPrefix + ModelVersion.Validate(version) + ":";
        var end = StatusPrefix + version + ";";
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and RowKey ge {prefix} and RowKey lt {end}");
        var result = new List<StatusChange>();
        await foreach (var row in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            result.Add(new StatusChange(version, Status(row), Optional(row, Columns.By), Optional(row, Columns.StatusReason), row.GetDateTimeOffset(Columns.At) ?? default, Optional(row, Columns.ByObjectId)));
        }

        return result;
    }

    private static TableEntity StatusRow(string version, ModelStatus status, string? by, string? reason, DateTimeOffset at, string? byObjectId = null) =>
        new(Partition, $"{StatusPrefix}{version}:{at.UtcTicks:D19}:{status}")
        {
            [Columns.Status] = status.ToString(),
            [Columns.By] = by ?? string.Empty,
            [Columns.ByObjectId] = byObjectId ?? string.Empty,
            [Columns.StatusReason] = reason ?? string.Empty,
            [Columns.At] = at,
        };

    /// <summary>
    /// Records that a person decided at pipeline <paramref name="pipelineId"/>'s approval gate, once
    /// (create-only row): a second decision (a double click, two approvers at once) is a 409 refusal
    /// naming the first. <see cref="ReleaseDecisionAsync"/> undoes a claim whose decision could not be delivered.
    /// </summary>
    public async Task ClaimDecisionAsync(string pipelineId, Access.OperatorIdentity by, bool approve, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(by);
        var row = new TableEntity(Partition, DecisionPrefix + pipelineId)
        {
            [Columns.By] = by.Name,
            [Columns.ByObjectId] = by.ObjectId,
            [Columns.Approve] = approve,
            [Columns.At] = time.GetUtcNow(),
        };
        try
        {
            await table.AddEntityAsync(row, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            var first = await FindAsync(DecisionPrefix + pipelineId, cancellationToken);
            throw new Requests.RequestRefusedException((int)HttpStatusCode.Conflict,
                $"pipeline '{pipelineId}' was already {(first?.GetBoolean(Columns.Approve) == true ? "approved" : "rejected")} by {first?.GetString(Columns.By) ?? "someone"}; one decision counts");
        }
    }

    /// <summary>Removes a decision claim (its event could not be raised), so the decision can be made again.</summary>
    public async Task ReleaseDecisionAsync(string pipelineId, CancellationToken cancellationToken = default) =>
        await table.DeleteEntityAsync(Partition, DecisionPrefix + pipelineId, ETag.All, cancellationToken);

    /// <summary>The live alias, or null when nothing has been published.</summary>
    public async Task<LiveAlias?> GetLiveAsync(CancellationToken cancellationToken = default)
    {
        var row = await FindAsync(AliasRow, cancellationToken);
        return row is null ? null : ToAlias(row);
    }

    /// <summary>
    /// Points "live" at <paramref name="version"/> (Approved, or Retired to bring an old model back)
    /// if "live" is still <paramref name="expectedCurrentLive"/> (null = nothing published yet).
    /// Throws <see cref="ModelAliasConflictException"/> and changes nothing when live moved on.
    /// </summary>
    public async Task<AliasChange> PublishAsync(string version, string? expectedCurrentLive, string? reason = null, CancellationToken cancellationToken = default)
    {
        ModelVersion.Validate(version);
        if (expectedCurrentLive is not null)
        {
            ModelVersion.Validate(expectedCurrentLive, nameof(expectedCurrentLive));
        }

        var alias = await FindAsync(AliasRow, cancellationToken);
        var current = alias?.GetString(Columns.Version);
        if (!string.Equals(current, expectedCurrentLive, StringComparison.Ordinal))
        {
            throw new ModelAliasConflictException($"Live is '{current ?? "(none)"}', not the expected '{expectedCurrentLive ?? "(none)"}'; nothing was published.");
        }

        if (string.Equals(current, version, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Model version '{version}' is already live.");
        }

        var target = await FindAsync(VersionPrefix + version, cancellationToken)
            ?? throw new ModelNotFoundException($"Model version '{version}' is not registered.");
        if (Status(target) is not (ModelStatus.Approved or ModelStatus.Retired))
        {
            throw new InvalidOperationException($"Model version '{version}' is {Status(target)}; only Approved (or Retired) versions can be published.");
        }

        var previousRow = current is null ? null : await FindAsync(VersionPrefix + current, cancellationToken);
        return await SwapAsync(alias, AliasChangeKind.Publish, target, previousRow, newPrevious: current, publishedOver: current, ModelStatus.Retired, reason, cancellationToken);
    }

    /// <summary>
    /// Points "live" back at the version the current one replaced when it was published, and marks
    /// the current one Rejected (re-approve it to publish it again). Throws
    /// <see cref="ModelStatusConflictException"/> when there is nothing to go back to (none, or it was
    /// rejected since) and
    /// <see cref="ModelAliasConflictException"/> when live moved on (or is not <paramref name="expectedCurrentLive"/>, if given).
    /// </summary>
    public Task<AliasChange> RollbackAsync(string? reason = null, string? expectedCurrentLive = null, CancellationToken cancellationToken = default) =>
        RollbackAsync(reason, expectedCurrentLive, null, cancellationToken);

    /// <summary>As <see cref="RollbackAsync(string?, string?, CancellationToken)"/>, recording the signed-in person who rolled back in both versions' status history.</summary>
    public async Task<AliasChange> RollbackAsync(string? reason, string? expectedCurrentLive, Access.OperatorIdentity? by, CancellationToken cancellationToken = default)
    {
        var alias = await FindAsync(AliasRow, cancellationToken) ?? throw new ModelStatusConflictException("Nothing is live; there is nothing to roll back.");
        var live = ToAlias(alias);
        if (expectedCurrentLive is not null && !string.Equals(ModelVersion.Validate(expectedCurrentLive, nameof(expectedCurrentLive)), live.Version, StringComparison.Ordinal))
        {
            throw new ModelAliasConflictException($"Live is '{live.Version}', not the expected '{expectedCurrentLive}'; nothing was rolled back.");
        }

        if (live.Previous is null)
        {
            throw new ModelStatusConflictException($"Live version '{live.Version}' was the first published; there is no previous version to roll back to.");
        }

        var target = await FindAsync(VersionPrefix + live.Previous, cancellationToken)
            ?? throw new ModelNotFoundException($"Previous live version '{live.Previous}' is not registered.");
        if (Status(target) is not (ModelStatus.Retired or ModelStatus.Approved))
        {
            // Rejected since it was replaced (by an operator, or by an earlier rollback): never back to live by rollback.
            throw new ModelStatusConflictException(
                $"Previous live version '{live.Previous}' is {Status(target)}; it cannot go live again by rollback. Publish an Approved version instead.");
        }

        var currentRow = await FindAsync(VersionPrefix + live.Version, cancellationToken);
        return await SwapAsync(alias, AliasChangeKind.Rollback, target, currentRow, newPrevious: Optional(target, Columns.PublishedOver), publishedOver: null, ModelStatus.Rejected, reason, cancellationToken, by);
    }

    /// <summary>Every change of the live alias, oldest first.</summary>
    public async Task<IReadOnlyList<AliasChange>> GetHistoryAsync(CancellationToken cancellationToken = default)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition} and RowKey ge {HistoryPrefix} and RowKey lt {HistoryPrefixEnd}");
        var result = new List<AliasChange>();
        await foreach (var row in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            result.Add(new AliasChange(
                row.GetInt64(Columns.Sequence) ?? 0,
                Enum.Parse<AliasChangeKind>(row.GetString(Columns.Kind)),
                row.GetString(Columns.From),
                row.GetString(Columns.To),
                row.GetDateTimeOffset(Columns.At) ?? default,
                Optional(row, Columns.StatusReason)));
        }

        return result;
    }

    /// <summary>One transaction: alias (ETag or create-only), history row (create-only), new live row and old live row (ETags).</summary>
    private async Task<AliasChange> SwapAsync(
        TableEntity? alias,
        AliasChangeKind kind,
        TableEntity target,
        TableEntity? outgoing,
        string? newPrevious,
        string? publishedOver,
        ModelStatus outgoingStatus,
        string? reason,
        CancellationToken cancellationToken,
        Access.OperatorIdentity? by = null)
    {
        var now = time.GetUtcNow();
        var from = alias?.GetString(Columns.Version);
        var to = target.RowKey[VersionPrefix.Length..];
        var sequence = (alias?.GetInt64(Columns.Sequence) ?? 0) + 1;
        var newAlias = new TableEntity(Partition, AliasRow)
        {
            [Columns.Version] = to,
            [Columns.Previous] = newPrevious,
            [Columns.Sequence] = sequence,
            [Columns.ChangedAt] = now,
        };
        var actions = new List<TableTransactionAction>
        {
            alias is null
                ? new(TableTransactionActionType.Add, newAlias)
                : new(TableTransactionActionType.UpdateReplace, newAlias, alias.ETag),
            new(TableTransactionActionType.Add, new TableEntity(Partition, HistoryPrefix + sequence.ToString("D19", CultureInfo.InvariantCulture))
            {
                [Columns.Sequence] = sequence,
                [Columns.Kind] = kind.ToString(),
                [Columns.From] = from,
                [Columns.To] = to,
                [Columns.At] = now,
                [Columns.StatusReason] = reason ?? string.Empty,
            }),
        };

        var live = new TableEntity(Partition, target.RowKey)
        {
            [Columns.Status] = nameof(ModelStatus.Live),
            [Columns.StatusReason] = reason ?? string.Empty,
            [Columns.StatusChangedAt] = now,
        };
        if (kind == AliasChangeKind.Publish)
        {
            live[Columns.PublishedOver] = publishedOver ?? string.Empty;
        }

        actions.Add(new(TableTransactionActionType.UpdateMerge, live, target.ETag));
        actions.Add(new(TableTransactionActionType.UpsertReplace, StatusRow(to, ModelStatus.Live, by?.Name ?? kind.ToString().ToLowerInvariant(), reason, now, by?.ObjectId)));
        if (outgoing is not null)
        {
            actions.Add(new(TableTransactionActionType.UpdateMerge, new TableEntity(Partition, outgoing.RowKey)
            {
                [Columns.Status] = outgoingStatus.ToString(),
                [Columns.StatusReason] = kind == AliasChangeKind.Rollback ? "rolled back" + (reason is null ? string.Empty : ": " + reason) : $"replaced by {to}",
                [Columns.StatusChangedAt] = now,
            }, outgoing.ETag));
            actions.Add(new(TableTransactionActionType.UpsertReplace, StatusRow(outgoing.RowKey[VersionPrefix.Length..], outgoingStatus, by?.Name ?? kind.ToString().ToLowerInvariant(),
                kind == AliasChangeKind.Rollback ? "rolled back" + (reason is null ? string.Empty : ": " + reason) : $"replaced by {to}", now, by?.ObjectId)));
        }

        try
        {
            await table.SubmitTransactionAsync(actions, cancellationToken);
        }
        catch (TableTransactionFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.Conflict or (int)HttpStatusCode.NotFound)
        {
            throw new ModelAliasConflictException($"The live alias or a model row changed during the {kind.ToString().ToLowerInvariant()} of '{to}'; nothing was changed. Re-read and retry.", ex);
        }

        return new AliasChange(sequence, kind, from, to, now, reason);
    }

    private async Task<TableEntity?> FindAsync(string rowKey, CancellationToken cancellationToken)
    {
        var response = await table.GetEntityIfExistsAsync<TableEntity>(Partition, rowKey, cancellationToken: cancellationToken);
        return response.HasValue ? response.Value : null;
    }

    /// <summary>Merges cannot remove a property, so "no value" is stored as an empty string.</summary>
    private static string? Optional(TableEntity row, string column) => row.GetString(column) is { Length: > 0 } value ? value : null;

    private static ModelStatus Status(TableEntity row) => Enum.Parse<ModelStatus>(row.GetString(Columns.Status));

    private static LiveAlias ToAlias(TableEntity row) => new(
        row.GetString(Columns.Version),
        row.GetString(Columns.Previous),
        row.GetInt64(Columns.Sequence) ?? 0,
        row.GetDateTimeOffset(Columns.ChangedAt) ?? default);

    private static ModelRecord ToRecord(TableEntity row) => new(
        row.RowKey[VersionPrefix.Length..],
        Status(row),
        Optional(row, Columns.StatusReason),
        row.GetDateTimeOffset(Columns.StatusChangedAt) ?? default,
        Enum.Parse<TrainerKind>(row.GetString(Columns.Trainer)),
        row.GetString(Columns.FeatureConfigHash),
        row.GetInt32(Columns.FeatureCount) ?? 0,
        JsonSerializer.Deserialize<Dictionary<string, double>>(row.GetString(Columns.Metrics) ?? "{}", ModelJson.Options) ?? [],
        row.GetDateTimeOffset(Columns.TrainedFrom) ?? default,
        row.GetDateTimeOffset(Columns.TrainedTo) ?? default,
        row.GetDateTimeOffset(Columns.CreatedAt) ?? default,
        row.GetInt64(Columns.ExampleCount) ?? 0,
        row.GetString(Columns.MlNetVersion) ?? string.Empty,
        Optional(row, Columns.PublishedOver))
    {
        SentinelPassed = row.GetBoolean(Columns.SentinelPassed),
    };

    private static class Columns
    {
        public const string Status = "Status";
        public const string StatusReason = "StatusReason";
        public const string StatusChangedAt = "StatusChangedAt";
        public const string Trainer = "Trainer";
        public const string FeatureConfigHash = "FeatureConfigHash";
        public const string FeatureCount = "FeatureCount";
        public const string Metrics = "Metrics";
        public const string Auc = "Auc";
        public const string TrainedFrom = "TrainedFrom";
        public const string TrainedTo = "TrainedTo";
        public const string CreatedAt = "CreatedAt";
        public const string ExampleCount = "ExampleCount";
        public const string MlNetVersion = "MlNetVersion";
        public const string PublishedOver = "PublishedOver";
        public const string Version = "Version";
        public const string Previous = "Previous";
        public const string Sequence = "Sequence";
        public const string ChangedAt = "ChangedAt";
        public const string Kind = "Kind";
        public const string From = "From";
        public const string To = "To";
        public const string At = "At";
        public const string By = "By";
        public const string ByObjectId = "ByObjectId";
        public const string Approve = "Approve";
        public const string SentinelPassed = "SentinelPassed";
    }
}
