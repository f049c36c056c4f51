namespace Serverless.Hosting;

/// <summary>How a setting is spelled in each runtime.</summary>
public enum SettingKind
{
    /// <summary>
    /// A connection. In Azure it is identity-based: <c>Name__serviceUri</c>-style keys plus
    /// <c>Name__credential</c> and <c>Name__clientId</c>, never a secret. Locally it is one key,
    /// <c>Name</c>, holding an emulator connection string (Azurite) or the local hub marker.
    /// </summary>
    Connection,

    /// <summary>A plain value with the same key in Azure and locally.</summary>
    Plain,

    /// <summary>
    /// A secret with the same key in Azure and locally: Azure gets it from a secure Bicep parameter
    /// (generated when not given), the local template carries a fixed development value.
    /// </summary>
    Secret,
}

/// <summary>One setting the app reads, with the keys it must have in Azure.</summary>
/// <param name="Name">The configuration key (<c>__</c> separates sections, as in app settings).</param>
/// <param name="Kind">How the setting is spelled per runtime.</param>
/// <param name="AzureKeys">For connections, the identity-based keys that must exist in Azure.</param>
public sealed record AppSetting(string Name, SettingKind Kind, IReadOnlyList<string> AzureKeys);

/// <summary>
/// The single map of every setting the app reads. The Bicep app settings (infra-bicep) and the
/// local settings template (functions/local.settings.template.json) must both carry every entry;
/// a test compares the three.
/// </summary>
public static class AppSettings
{
    public const string Storage = "Storage";
    public const string EventHubs = "EventHubs";
    public const string DurableTaskHubName = "DurableTaskHubName";

    public static readonly IReadOnlyList<AppSetting> All =
    [
        new(Storage, SettingKind.Connection,
            ["Storage__tableServiceUri", "Storage__blobServiceUri", "Storage__credential", "Storage__clientId"]),
        new(EventHubs, SettingKind.Connection,
            ["EventHubs__fullyQualifiedNamespace", "EventHubs__credential", "EventHubs__clientId"]),
        new(DurableTaskHubName, SettingKind.Plain, []),
        new("Archive__LiveMaxLimit", SettingKind.Plain, []),
        new("Archive__BatchPagesPerSecond", SettingKind.Plain, []),
        new("Archive__BatchMaxConcurrency", SettingKind.Plain, []),
        new("Archive__BatchQueueLimit", SettingKind.Plain, []),
        new("Archive__BatchMaxPageSize", SettingKind.Plain, []),
        new("Archive__MaxFutureSkew", SettingKind.Plain, []),
        new("Archive__RecentHistoryCap", SettingKind.Plain, []),
        new("Archive__ContinuationKey", SettingKind.Secret, []),
        new("Lumberjack__SampleRate", SettingKind.Plain, []),
        new("Lumberjack__BufferCapacity", SettingKind.Plain, []),
        new("Lumberjack__PublishInterval", SettingKind.Plain, []),
        new("Lumberjack__LabelHorizon", SettingKind.Plain, []),
        new("Lumberjack__LateWindow", SettingKind.Plain, []),
        new("Lumberjack__PublishAttempts", SettingKind.Plain, []),
        new("Lumberjack__PublishRetryDelay", SettingKind.Plain, []),
        new("Lumberjack__PublishRetryTimeout", SettingKind.Plain, []),
        new("Serving__HistoryCacheTtl", SettingKind.Plain, []),
        new("Serving__HistoryCacheSize", SettingKind.Plain, []),
        new("Serving__HistoryRefreshAhead", SettingKind.Plain, []),
        new("Serving__Deadline", SettingKind.Plain, []),
        new("Health__MaxSubstituteShare", SettingKind.Plain, []),
        new("Health__MaxFeatureLogLagEvents", SettingKind.Plain, []),
        new("Health__MaxFeatureLogLagAge", SettingKind.Plain, []),
        new("Health__MaxDropsPerMinute", SettingKind.Plain, []),
        new("Health__MaxHistoryReadP99", SettingKind.Plain, []),
        new("TimeMachine__SampleRate", SettingKind.Plain, []),
        new("TimeMachine__SampleSeed", SettingKind.Plain, []),
        new("TimeMachine__Strata", SettingKind.Plain, []),
        new("Precompute__Partitions", SettingKind.Plain, []),
        new("Precompute__MaxParallel", SettingKind.Plain, []),
        new("Precompute__RefreshInterval", SettingKind.Plain, []),
        new("Precompute__MaxVersionAge", SettingKind.Plain, []),
        new("Precompute__CleanupGrace", SettingKind.Plain, []),
        new("Precompute__Schedule", SettingKind.Plain, []),
        new("Precompute__ScheduledDatasets", SettingKind.Plain, []),
        new("Sentinel__MinProbeRows", SettingKind.Plain, []),
        new("Sentinel__CheckScoreSpread", SettingKind.Plain, []),
        new("Sentinel__MinScoreStdDev", SettingKind.Plain, []),
        new("Sentinel__MinProbeRowsForSpread", SettingKind.Plain, []),
        new("Sentinel__MinShadowRows", SettingKind.Plain, []),
        new("Sentinel__MinShadowRequests", SettingKind.Plain, []),
        new("Sentinel__MinShadowMembers", SettingKind.Plain, []),
        new("Sentinel__MaxShadowRows", SettingKind.Plain, []),
        new("Sentinel__BootstrapResamples", SettingKind.Plain, []),
        new("Sentinel__AucTolerance", SettingKind.Plain, []),
        new("Sentinel__LogLossTolerance", SettingKind.Plain, []),
        new("Sentinel__NdcgTolerance", SettingKind.Plain, []),
        new("Sentinel__MaxPsi", SettingKind.Plain, []),
        new("Sentinel__MaxCalibrationError", SettingKind.Plain, []),
        new("Sentinel__MaxSumRatioDeviation", SettingKind.Plain, []),
        new("Sentinel__ServingBudget", SettingKind.Plain, []),
        new("Sentinel__RepublishOnRefusal", SettingKind.Plain, []),
    ];
}
