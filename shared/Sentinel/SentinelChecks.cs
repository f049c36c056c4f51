namespace Serverless.Sentinel;

/// <summary>The name of every Sentinel check, as reports and alerts spell them.</summary>
public static class SentinelChecks
{
    public const string ArtifactLoads = Serverless.Models.ModelSentinel.ArtifactLoads;
    public const string FeatureConfigHash = Serverless.Models.ModelSentinel.FeatureConfigHash;
    public const string FeatureNames = Serverless.Models.ModelSentinel.FeatureNames;
    public const string ProbeScoresValid = Serverless.Models.ModelSentinel.ProbeScoresValid;
    public const string DependentData = "dependent-data-available";
    public const string FeatureCodeSync = "feature-code-in-sync";
    public const string ShadowAccuracy = "shadow-accuracy";
    public const string HoldoutFloor = "holdout-above-popularity";
    public const string FeatureDrift = "feature-drift";
    public const string Calibration = "calibration";
    public const string ServingBudget = "serving-budget";
}
