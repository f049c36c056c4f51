using System.Net;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;

namespace Serverless.Precompute;

/// <summary>
/// Versions of derived datasets: table "{prefix}derived", one partition per dataset holding a row per
/// version ("version:{v}"), the pointer to the current version ("pointer") and the lock of the
/// precompute building the next one ("lock"). One partition makes the switch one entity-group
/// transaction: the pointer (ETag), the new version's publication, the old version's replacement
/// time and the release of the lock commit together or not at all, so a reader sees the old version
/// or the new one, never a mix, and only the lock's holder can publish.
/// </summary>
public sealed class DerivedVersionRegistry
{
    public const string TableSuffix = "derived";
    private const string PointerRow = "pointer";
    private const string LockRow = "lock";
    private const string VersionPrefix = "version:";
    private const string VersionPrefixEnd = "version;";

    private readonly TableClient table;
    private readonly TimeProvider time;

    public DerivedVersionRegistry(TableServiceClient tables, string tablePrefix, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(tablePrefix);
        table = tables.GetTableClient(tablePrefix + TableSuffix);
        this.time = time ?? TimeProvider.System;
    }

    public async Task EnsureCreatedAsync(CancellationToken cancellationToken = default) => await table.CreateIfNotExistsAsync(cancellationToken);

    /// <summary>The owner (orchestration id) holding the dataset's lock, or null when it is free or its lease ran out.</summary>
    public async Task<string?> LockHolderAsync(string dataset, CancellationToken cancellationToken = default)
    {
        var row = await FindAsync(Check(dataset), LockRow, cancellationToken);
        return row is null || row.GetDateTimeOffset(Columns.Expires) <= time.GetUtcNow() ? null : row.GetString(Columns.Owner);
    }

    /// <summary>
    /// Takes the dataset's lock for <paramref name="owner"/> and registers <paramref name="version"/> as
    /// Building, in one transaction. Idempotent for the same owner and version (an activity retried).
    /// Throws <see cref="PrecomputeRefusedException"/> (409) when another owner holds an unexpired lock.
    /// </summary>
    public async Task<DerivedVersion> BeginAsync(DerivedVersion version, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(version);
        var dataset = Check(version.Dataset);
        if (!DerivedVersionIds.IsValid(version.Version))
        {
            throw new PrecomputeRefusedException(400, $"version '{version.Version}' is not a valid version id");
        }

        var now = time.GetUtcNow();
        var existingLock = await FindAsync(dataset, LockRow, cancellationToken);
        var existingVersion = await FindAsync(dataset, VersionPrefix + version.Version, cancellationToken);
        var holder = existingLock?.GetString(Columns.Owner);
        if (existingLock is not null && holder != version.Owner && existingLock.GetDateTimeOffset(Columns.Expires) > now)
        {
            throw new PrecomputeRefusedException(409,
                $"a precompute of {dataset} is already running ({holder}, version {existingLock.GetString(Columns.Version)}); one at a time, try again when it is done");
        }

        if (existingVersion is not null)
        {
            var record = ToVersion(existingVersion);
            if (record.Owner == version.Owner && record.Status == DerivedVersionStatus.Building && holder == version.Owner)
            {
                return record;
            }

            throw new PrecomputeRefusedException(409, $"version {version.Version} of {dataset} exists already ({record.Status})");
        }

        var lockRow = new TableEntity(dataset, LockRow)
        {
            [Columns.Owner] = version.Owner,
            [Columns.Version] = version.Version,
            [Columns.Since] = now,
            [Columns.Expires] = now + lease,
        };
        var actions = new List<TableTransactionAction>
        {
            existingLock is null ? new(TableTransactionActionType.Add, lockRow) : new(TableTransactionActionType.UpdateReplace, lockRow, existingLock.ETag),
            new(TableTransactionActionType.Add, ToRow(version with { Status = DerivedVersionStatus.Building, CreatedAt = now, PublishedAt = null, ReplacedAt = null })),
        };
        try
        {
            await table.SubmitTransactionAsync(actions, cancellationToken);
        }
        catch (TableTransactionFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
        {
            throw new PrecomputeRefusedException(409, $"a precompute of {dataset} is already running (it took the lock first); one at a time, try again when it is done");
        }

        return (await GetAsync(dataset, version.Version, cancellationToken))!;
    }

    /// <summary>
    /// Switches the pointer to <paramref name="version"/> (Building, owned by <paramref name="owner"/>,
    /// holding the lock) and records its counts: one transaction with the pointer's ETag, the old
    /// version's replacement time and the lock's release. Idempotent when it is already current.
    /// </summary>
    public async Task<DerivedVersion> PublishAsync(string dataset, string version, string owner, IReadOnlyDictionary<string, long> counts, CancellationToken cancellationToken = default)
    {
        Check(dataset);
        var pointer = await FindAsync(dataset, PointerRow, cancellationToken);
        if (pointer?.GetString(Columns.Version) == version)
        {
            return (await GetAsync(dataset, version, cancellationToken))!;
        }

        var lockRow = await FindAsync(dataset, LockRow, cancellationToken);
        if (lockRow?.GetString(Columns.Owner) != owner || lockRow.GetString(Columns.Version) != version)
        {
            throw new PrecomputeRefusedException(409, $"{owner} does not hold the lock of {dataset} for version {version}; nothing was published");
        }

        var row = await FindAsync(dataset, VersionPrefix + version, cancellationToken)
            ?? throw new PrecomputeRefusedException(404, $"version {version} of {dataset} is not registered");
        var now = time.GetUtcNow();
        var previousVersion = pointer?.GetString(Columns.Version);
        var previous = previousVersion is null ? null : await FindAsync(dataset, VersionPrefix + previousVersion, cancellationToken);
        var newPointer = new TableEntity(dataset, PointerRow)
        {
            [Columns.Version] = version,
            [Columns.AsOf] = row.GetDateTimeOffset(Columns.AsOf),
            [Columns.ChangedAt] = now,
        };
        var actions = new List<TableTransactionAction>
        {
            pointer is null ? new(TableTransactionActionType.Add, newPointer) : new(TableTransactionActionType.UpdateReplace, newPointer, pointer.ETag),
            new(TableTransactionActionType.UpdateMerge, new TableEntity(dataset, row.RowKey)
            {
                [Columns.Status] = nameof(DerivedVersionStatus.Published),
                [Columns.PublishedAt] = now,
                [Columns.Counts] = JsonSerializer.Serialize(counts, DerivedJson.Options),
            }, row.ETag),
            new(TableTransactionActionType.Delete, lockRow, lockRow.ETag),
        };
        if (previous is not null)
        {
            actions.Add(new(TableTransactionActionType.UpdateMerge, new TableEntity(dataset, previous.RowKey) { [Columns.ReplacedAt] = now }, previous.ETag));
        }

        try
        {
            await table.SubmitTransactionAsync(actions, cancellationToken);
        }
        catch (TableTransactionFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.Conflict or (int)HttpStatusCode.NotFound)
        {
            throw new PrecomputeRefusedException(409, $"the pointer or the lock of {dataset} changed while publishing {version}; nothing was published");
        }

        return (await GetAsync(dataset, version, cancellationToken))!;
    }

    /// <summary>Marks a Building version Failed with its reason and releases the lock if <paramref name="owner"/> holds it. The pointer does not move.</summary>
    public async Task FailAsync(string dataset, string version, string owner, string reason, CancellationToken cancellationToken = default)
    {
        Check(dataset);
        var row = await FindAsync(dataset, VersionPrefix + version, cancellationToken);
        if (row is not null && row.GetString(Columns.Owner) == owner && row.GetString(Columns.Status) == nameof(DerivedVersionStatus.Building))
        {
            await table.UpdateEntityAsync(new TableEntity(dataset, row.RowKey)
            {
                [Columns.Status] = nameof(DerivedVersionStatus.Failed),
                [Columns.Reason] = reason.Length > 4000 ? reason[..4000] : reason,
            }, row.ETag, TableUpdateMode.Merge, cancellationToken);
        }

        var lockRow = await FindAsync(dataset, LockRow, cancellationToken);
        if (lockRow?.GetString(Columns.Owner) == owner)
        {
            try
            {
                await table.DeleteEntityAsync(dataset, LockRow, lockRow.ETag, cancellationToken);
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
            {
                // Taken over after its lease ran out, or released already.
            }
        }
    }

    /// <summary>Marks a replaced version Removed (its files were deleted by cleanup); its interval stays as history.</summary>
    public async Task MarkRemovedAsync(string dataset, string version, CancellationToken cancellationToken = default)
    {
        var row = await FindAsync(Check(dataset), VersionPrefix + version, cancellationToken);
        if (row is not null)
        {
            await table.UpdateEntityAsync(new TableEntity(dataset, row.RowKey) { [Columns.Status] = nameof(DerivedVersionStatus.Removed) }, row.ETag, TableUpdateMode.Merge, cancellationToken);
        }
    }

    /// <summary>The current version (the pointer's), or null when none was published.</summary>
    public async Task<DerivedVersion?> CurrentAsync(string dataset, CancellationToken cancellationToken = default)
    {
        var pointer = await FindAsync(Check(dataset), PointerRow, cancellationToken);
        return pointer is null ? null : await GetAsync(dataset, pointer.GetString(Columns.Version), cancellationToken);
    }

    public async Task<DerivedVersion?> GetAsync(string dataset, string version, CancellationToken cancellationToken = default)
    {
        if (!DerivedVersionIds.IsValid(version))
        {
            return null;
        }

        var row = await FindAsync(Check(dataset), VersionPrefix + version, cancellationToken);
        return row is null ? null : ToVersion(row);
    }

    /// <summary>Every version of the dataset, oldest first.</summary>
    public async Task<IReadOnlyList<DerivedVersion>> ListAsync(string dataset, CancellationToken cancellationToken = default)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Check(dataset)} and RowKey ge {VersionPrefix} and RowKey lt {VersionPrefixEnd}");
        var result = new List<DerivedVersion>();
        await foreach (var row in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            result.Add(ToVersion(row));
        }

        return result.OrderBy(v => v.CreatedAt).ThenBy(v => v.Version, StringComparer.Ordinal).ToList();
    }

    private static string Check(string dataset) =>
        DerivedDatasets.IsKnown(dataset) ? dataset : throw new PrecomputeRefusedException(400, $"unknown dataset '{dataset}': use one of {string.Join(", ", DerivedDatasets.All)}");

    private async Task<TableEntity?> FindAsync(string dataset, string rowKey, CancellationToken cancellationToken)
    {
        var response = await table.GetEntityIfExistsAsync<TableEntity>(dataset, rowKey, cancellationToken: cancellationToken);
        return response.HasValue ? response.Value : null;
    }

    private static TableEntity ToRow(DerivedVersion v) => new(v.Dataset, VersionPrefix + v.Version)
    {
        [Columns.Status] = v.Status.ToString(),
        [Columns.AsOf] = v.AsOf,
        [Columns.Inputs] = JsonSerializer.Serialize(v.Inputs, DerivedJson.Options),
        [Columns.CodeHash] = v.CodeHash,
        [Columns.Partitions] = v.Partitions,
        [Columns.Counts] = JsonSerializer.Serialize(v.Counts, DerivedJson.Options),
        [Columns.CreatedAt] = v.CreatedAt,
        [Columns.Owner] = v.Owner,
    };

    private static DerivedVersion ToVersion(TableEntity row) => new(
        row.PartitionKey,
        row.RowKey[VersionPrefix.Length..],
        Enum.Parse<DerivedVersionStatus>(row.GetString(Columns.Status)),
        row.GetDateTimeOffset(Columns.AsOf) ?? default,
        JsonSerializer.Deserialize<List<string>>(row.GetString(Columns.Inputs) ?? "[]", DerivedJson.Options) ?? [],
        row.GetString(Columns.CodeHash) ?? string.Empty,
        row.GetInt32(Columns.Partitions) ?? 0,
        JsonSerializer.Deserialize<Dictionary<string, long>>(row.GetString(Columns.Counts) ?? "{}", DerivedJson.Options) ?? [],
        row.GetDateTimeOffset(Columns.CreatedAt) ?? default,
        row.GetDateTimeOffset(Columns.PublishedAt),
        row.GetDateTimeOffset(Columns.ReplacedAt),
        row.GetString(Columns.Owner),
        row.GetString(Columns.Reason));

    private static class Columns
    {
        public const string Status = "Status";
        public const string AsOf = "AsOf";
        public const string Inputs = "Inputs";
        public const string CodeHash = "CodeHash";
        public const string Partitions = "Partitions";
        public const string Counts = "Counts";
        public const string CreatedAt = "CreatedAt";
        public const string PublishedAt = "PublishedAt";
        public const string ReplacedAt = "ReplacedAt";
        public const string Owner = "Owner";
        public const string Reason = "Reason";
        public const string Version = "Version";
        public const string Since = "Since";
        public const string Expires = "Expires";
        public const string ChangedAt = "ChangedAt";
    }
}
