using Serverless.Workflows.ArchiveExport;
using Serverless.Workflows.Precompute;
using Serverless.Workflows.TimeMachine;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Workflows;

/// <summary>
/// Every orchestrator and activity name, in one place. Function names in functions/ and
/// registrations in tests use these, never string literals.
/// </summary>
public static class TaskNames
{
    public const string ArchiveExport = nameof(ArchiveExportOrchestrator);
    public const string ExportArchivePage = nameof(ExportArchivePageActivity);
    public const string TrainPipeline = nameof(TrainPipelineOrchestrator);
    public const string TrainCandidate = nameof(TrainCandidateActivity);
    public const string ValidateCandidate = nameof(ValidateCandidateActivity);
    public const string PublishModel = nameof(PublishModelActivity);
    public const string RejectModel = nameof(RejectModelActivity);
    public const string Precompute = nameof(PrecomputeOrchestrator);
    public const string BeginPrecompute = nameof(BeginPrecomputeActivity);
    public const string PrepareInputs = nameof(PrepareInputsActivity);
    public const string ComputePartition = nameof(ComputePartitionActivity);
    public const string PublishPrecompute = nameof(PublishPrecomputeActivity);
    public const string FailPrecompute = nameof(FailPrecomputeActivity);
    public const string ContextSnapshot = nameof(ContextSnapshotOrchestrator);
    public const string PlanContextSnapshot = nameof(PlanContextSnapshotActivity);
    public const string CaptureSnapshotPartition = nameof(CaptureSnapshotPartitionActivity);
    public const string CaptureSnapshotCatalog = nameof(CaptureSnapshotCatalogActivity);
    public const string CompleteContextSnapshot = nameof(CompleteContextSnapshotActivity);
}
