using Serverless.Access;
using Serverless.Models;
using Serverless.Requests;

namespace Serverless.Sentinel;

/// <summary>One version as GET /api/models lists it.</summary>
public sealed record ModelSummary(
    string Version,
    ModelStatus Status,
    string? StatusReason,
    DateTimeOffset StatusChangedAt,
    TrainerKind Trainer,
    bool? SentinelPassed,
    double? Auc,
    DateTimeOffset CreatedAt,
    bool IsLive,
    bool IsPrevious);

/// <summary>GET /api/models: which version is live and which previous, and every version, newest first.</summary>
public sealed record ModelList(string? Live, string? Previous, IReadOnlyList<ModelSummary> Versions);

/// <summary>GET /api/models/{version}: the registry record, whether it is live, its status history and its whole Sentinel report.</summary>
public sealed record ModelDetail(ModelRecord Record, bool IsLive, IReadOnlyList<StatusChange> History, SentinelReport? Sentinel);

/// <summary>The models as operators read and act on them: the registry with the Sentinel's reports.</summary>
public sealed class ModelCatalog(ModelRegistry registry, CandidateValidator sentinel)
{
    /// <summary>Every registered version, newest first, with live and previous marked (a query parameter is a 400 refusal).</summary>
    public async Task<ModelList> ListAsync(RequestQuery query, CancellationToken cancellationToken = default)
    {
        ModelRequests.NoParameters(query);
        var live = await registry.GetLiveAsync(cancellationToken);
        var versions = (await registry.ListAsync(cancellationToken))
            .OrderByDescending(r => r.CreatedAt).ThenBy(r => r.Version, StringComparer.Ordinal)
            .Select(r => new ModelSummary(
                r.Version, r.Status, r.StatusReason, r.StatusChangedAt, r.Trainer, r.SentinelPassed,
                r.Metrics.TryGetValue(ModelMetricNames.Auc, out var auc) ? auc : null,
                r.CreatedAt, r.Version == live?.Version, r.Version == live?.Previous))
            .ToList();
        return new ModelList(live?.Version, live?.Previous, versions);
    }

    /// <summary>One version (a 400 refusal for a malformed version or a query parameter, 404 when it is not registered).</summary>
    public async Task<ModelDetail> GetAsync(string version, RequestQuery query, CancellationToken cancellationToken = default)
    {
        ModelRequests.Version(version);
        ModelRequests.NoParameters(query);
        var record = await registry.GetAsync(version, cancellationToken) ?? throw new ModelNotFoundException($"model version '{version}' is not registered");
        var live = await registry.GetLiveAsync(cancellationToken);
        return new ModelDetail(
            record,
            live?.Version == version,
            await registry.GetStatusHistoryAsync(version, cancellationToken),
            await sentinel.GetReportAsync(version, cancellationToken));
    }

    /// <summary>
    /// <paramref name="by"/> points live back at the previous version: 409 refusals when live is not
    /// the expected version, or there is nothing to go back to (see <see cref="ModelRegistry.RollbackAsync(string?, string?, OperatorIdentity?, CancellationToken)"/>).
    /// </summary>
    public Task<AliasChange> RollbackAsync(RollbackRequest body, OperatorIdentity by, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(by);
        body.Validate();
        return registry.RollbackAsync(body.ReasonBy(by), body.ExpectedLive, by, cancellationToken);
    }
}
