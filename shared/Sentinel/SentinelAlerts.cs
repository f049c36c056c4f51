using System.Globalization;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;
using Serverless.Models;

namespace Serverless.Sentinel;

/// <summary>What an alert is about.</summary>
public static class AlertKinds
{
    /// <summary>A Sentinel check failed on a candidate in the pipeline (one alert per failed check).</summary>
    public const string CheckFailed = "check-failed";

    /// <summary>A candidate was rejected (by the Sentinel or by a person).</summary>
    public const string CandidateRejected = "candidate-rejected";

    /// <summary>A candidate waited at the approval gate past its deadline.</summary>
    public const string CandidateExpired = "candidate-expired";

    /// <summary>A serving instance's loader refused the version the live alias points to.</summary>
    public const string LoaderRefused = "loader-refused";

    /// <summary>After a loader refusal, the live alias was moved back to the last version that passed.</summary>
    public const string Republished = "republished";

    public static IReadOnlyList<string> All { get; } = [CheckFailed, CandidateRejected, CandidateExpired, LoaderRefused, Republished];
}

/// <summary>One persisted alert: when, what kind, which version, which check (if one), what was found, and who raised it.</summary>
public sealed record SentinelAlert(string Id, DateTimeOffset At, string Kind, string Version, string? Check, string Detail, string Source);

/// <summary>
/// The Sentinel's alerts: table "{prefix}alerts", one partition, row keys in reverse time order so
/// the newest come first. Every alert is also a structured log event (<see cref="AlertEvent"/>) with
/// the kind, version, check and detail as named properties, for a log query or an Azure Monitor alert rule.
/// </summary>
public sealed class SentinelAlerts
{
    public const string TableSuffix = "alerts";
    public const int MaxDetailLength = 4000;
    public const int MaxList = 500;
    public static readonly EventId AlertEvent = new(9001, "SentinelAlert");
    private const string Partition = "alert";

    private readonly TableClient table;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private readonly Hosting.PlatformMetrics? metrics;

    public SentinelAlerts(TableServiceClient tables, string tablePrefix, TimeProvider? time = null, ILogger<SentinelAlerts>? logger = null, Hosting.PlatformMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(tablePrefix);
        if (!tablePrefix.All(char.IsAsciiLetterOrDigit) || (tablePrefix.Length > 0 && !char.IsAsciiLetter(tablePrefix[0])) || tablePrefix.Length > 63 - TableSuffix.Length)
        {
            throw new ArgumentException($"Table prefix '{tablePrefix}' must be letters and digits, starting with a letter.", nameof(tablePrefix));
        }

        table = tables.GetTableClient(tablePrefix + TableSuffix);
        this.time = time ?? TimeProvider.System;
        this.logger = (ILogger?)logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        this.metrics = metrics;
    }

    public async Task EnsureCreatedAsync(CancellationToken cancellationToken = default) => await table.CreateIfNotExistsAsync(cancellationToken);

    /// <summary>Logs and persists an alert; returns it.</summary>
    public async Task<SentinelAlert> RaiseAsync(string kind, string version, string? check, string detail, string source, CancellationToken cancellationToken = default)
    {
        if (!AlertKinds.All.Contains(kind, StringComparer.Ordinal))
        {
            throw new ArgumentException($"Unknown alert kind '{kind}'.", nameof(kind));
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(version);
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        detail ??= string.Empty;
        if (detail.Length > MaxDetailLength)
        {
            detail = detail[..(MaxDetailLength - 1)] + "…";
        }

        var at = time.GetUtcNow();
        var id = string.Create(CultureInfo.InvariantCulture, $"{DateTimeOffset.MaxValue.UtcTicks - at.UtcTicks:D19}-{Guid.NewGuid():N}");
        var alert = new SentinelAlert(id, at, kind, version, check, detail, source);
        logger.Log(kind == AlertKinds.Republished ? LogLevel.Warning : LogLevel.Error, AlertEvent,
            "Sentinel alert {AlertKind} on model {Version}{CheckPart} from {Source}: {Detail}",
            kind, version, check is null ? "" : $" (check {check})", source, detail);
        metrics?.SentinelAlert(kind, check);
        await table.AddEntityAsync(new TableEntity(Partition, id)
        {
            ["At"] = at,
            ["Kind"] = kind,
            ["Version"] = version,
            ["Check"] = check ?? string.Empty,
            ["Detail"] = detail,
            ["Source"] = source,
        }, cancellationToken);
        return alert;
    }

    /// <summary>An alert for each failed check of a report, then one for the rejection.</summary>
    public async Task RaiseRejectedAsync(SentinelReport report, string source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(report);
        var version = report.Version ?? "(unknown)";
        foreach (var failed in report.Failures)
        {
            await RaiseAsync(AlertKinds.CheckFailed, version, failed.Name, $"{failed.Measured} (needs {failed.Threshold})", source, cancellationToken);
        }

        await RaiseAsync(AlertKinds.CandidateRejected, version, null, "rejected by the Sentinel: " + string.Join(", ", report.Failures.Select(f => f.Name)), source, cancellationToken);
    }

    /// <summary>The newest alerts first, at most <paramref name="limit"/>, optionally of one version or kind.</summary>
    public async Task<IReadOnlyList<SentinelAlert>> ListAsync(int limit = 100, string? version = null, string? kind = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxList);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition}");
        if (version is not null)
        {
            filter += " and " + TableClient.CreateQueryFilter($"Version eq {version}");
        }

        if (kind is not null)
        {
            filter += " and " + TableClient.CreateQueryFilter($"Kind eq {kind}");
        }

        var result = new List<SentinelAlert>();
        await foreach (var row in table.QueryAsync<TableEntity>(filter, maxPerPage: Math.Min(limit, 1000), cancellationToken: cancellationToken))
        {
            result.Add(new SentinelAlert(row.RowKey, row.GetDateTimeOffset("At") ?? default, row.GetString("Kind"), row.GetString("Version"),
                row.GetString("Check") is { Length: > 0 } c ? c : null, row.GetString("Detail") ?? "", row.GetString("Source") ?? ""));
            if (result.Count == limit)
            {
                break;
            }
        }

        return result;
    }
}
