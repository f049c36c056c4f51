namespace Serverless.Workflows.ArchiveExport;

/// <summary>
/// Export the archive (or one member) for an event-time window as known at <see cref="AsOf"/> into
/// JSON-lines blobs. AsOf is fixed before the orchestration starts, so every page sees one snapshot.
/// </summary>
public sealed record ArchiveExportRequest(string? Member, DateTimeOffset? From, DateTimeOffset? To, DateTimeOffset AsOf, int PageSize);

/// <summary>Orchestration state carried across continue-as-new generations.</summary>
public sealed record ArchiveExportState(ArchiveExportRequest Request, string? Continuation, int Part, long Facts);

/// <summary>Where the export went.</summary>
public sealed record ArchiveExportResult(string Container, string Prefix, int Parts, long Facts, DateTimeOffset AsOf);

/// <summary>One page to export into one blob.</summary>
public sealed record ExportPageInput(string ExportId, ArchiveExportRequest Request, string? Continuation, int Part);

/// <summary>What one exported page wrote.</summary>
public sealed record ExportPageResult(string Blob, int Facts, string? Continuation);
