using System.Globalization;
using Serverless.Archive;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.Precompute;
using Serverless.Training;

namespace Serverless.TimeMachine;

/// <summary>Where a training set came from: the source, the window its rows cover, what it read (snapshot id, log range or archive watermark) and the feature config.</summary>
public sealed record TrainingSetLineage(string Source, DateTimeOffset From, DateTimeOffset To, string Reference, string ConfigHash, int TrainRows, int ValidationRows)
{
    /// <summary>The lineage as the strings a model manifest lists.</summary>
    public IReadOnlyList<string> ToManifestLineage() =>
    [
        $"source:{Source}",
        Reference,
        string.Create(CultureInfo.InvariantCulture, $"window:{From:O}..{To:O}"),
        $"config:{ConfigHash}",
    ];
}

/// <summary>A training set with its lineage and the leakage scan run on it.</summary>
public sealed record SourcedTrainingSet(TrainingSet Set, TrainingSetLineage Lineage, LeakageReport Leakage);

/// <summary>What to build: known at <see cref="Watermark"/> (nothing later is read), cut with <see cref="Options"/>.</summary>
public sealed record TrainingSetQuery(DateTimeOffset Watermark, TrainingSetOptions Options);

/// <summary>
/// One way to get a training set. Three sources, one interface: logged features + labels (the
/// Lumberjack: features exactly as served), context snapshots + labels (features recomputed by the
/// shared encoder from what a snapshot captured at T) and time travel over the bitemporal archive
/// (features recomputed at past cutoffs, for a feature that was never logged). Every set comes back
/// with its lineage and its leakage scan; a set whose scan is not clean is refused
/// (<see cref="LeakageException"/>), never returned.
/// </summary>
public interface ITrainingSetSource
{
    /// <summary>The source's name in lineage: logged-features, context-snapshot, time-travel.</summary>
    string Name { get; }

    Task<SourcedTrainingSet> BuildAsync(TrainingSetQuery query, CancellationToken cancellationToken = default);
}

/// <summary>Refuses a set whose leakage scan found rows using data not known at their time (a skipped scan passes, with its reason).</summary>
public static class TrainingSetSources
{
    public const string LoggedFeatures = "logged-features";
    public const string ContextSnapshot = "context-snapshot";
    public const string TimeTravel = "time-travel";

    public static SourcedTrainingSet Checked(TrainingSet set, TrainingSetLineage lineage, LeakageReport scan) =>
        scan.Skipped is null && !scan.Clean ? throw new LeakageException(scan) : new SourcedTrainingSet(set, lineage, scan);
}

/// <summary>
/// The Lumberjack's set: labelled impressions logged with the encoder's config hash, features
/// exactly as served, split by request time. The leakage scan skips it (rows have no recomputable
/// context: the skew meter is its guard), and says so in the report.
/// </summary>
public sealed class LoggedFeaturesSource(FeatureLogStore featureLog, FeatureEncoder encoder) : ITrainingSetSource
{
    public string Name => TrainingSetSources.LoggedFeatures;

    public async Task<SourcedTrainingSet> BuildAsync(TrainingSetQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var logged = (await featureLog.LabelledAsync(encoder.ConfigHash, cancellationToken)).Where(i => i.Record.RequestTime <= query.Watermark).ToList();
        return FromImpressions(logged, query, encoder);
    }

    /// <summary>The set from impressions already read (tests, the pipeline when it holds them).</summary>
    public static SourcedTrainingSet FromImpressions(IReadOnlyList<LoggedImpression> logged, TrainingSetQuery query, FeatureEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(logged);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(encoder);
        var set = TrainingSetBuilder.FromLogs(logged, encoder.ConfigHash, encoder.Count, query.Options.ValidationShare);
        var requests = logged.Where(i => i.Label is not null && i.Record.ConfigHash == encoder.ConfigHash && i.Record.Features.Length == encoder.Count)
            .Select(i => i.Record.LogId).Distinct(StringComparer.Ordinal).Count();
        var reference = string.Create(CultureInfo.InvariantCulture, $"featurelog:{encoder.ConfigHash}:{set.From:O}..{set.To:O}:{requests} requests");
        var lineage = new TrainingSetLineage(TrainingSetSources.LoggedFeatures, set.From, set.To, reference, encoder.ConfigHash, set.Train.Count, set.Validation.Count);
        // The rows' contexts (member, title, request time) say whose rows they are, for the drift
        // reference; the vectors are the ones served, not recomputable here: the skew meter checks them.
        return TrainingSetSources.Checked(set, lineage, LeakageScan.Skip(set, "logged features are the vectors as served, not recomputed here (the skew meter checks them)"));
    }
}

/// <summary>
/// A set from a context snapshot taken at T: each captured member's features at T recomputed by the
/// shared encoder from what the snapshot holds (history known at T, catalog at T, the title
/// statistics current at T), labelled by what the member rated in (T, T + horizon] as known at the
/// query's watermark; as many unrated popular titles as negatives as the options ask. Time split:
/// members by stable hash (a snapshot has one T), the validation share held out.
/// </summary>
public sealed class ContextSnapshotSource(string snapshotId, ContextSnapshotter snapshotter, TitleStatsVersions titleStats, ArchiveReader archive, FeatureEncoder encoder) : ITrainingSetSource
{
    /// <summary>Members whose labels are read at once.</summary>
    public const int ReadParallelism = 8;

    public string Name => TrainingSetSources.ContextSnapshot;

    public async Task<SourcedTrainingSet> BuildAsync(TrainingSetQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var snapshot = await snapshotter.LoadAsync(snapshotId, titleStats, cancellationToken);
        var t = snapshot.Manifest.AsOf;
        var until = t + query.Options.Horizon;
        if (until > query.Watermark)
        {
            throw new SnapshotRefusedException(400, $"snapshot {snapshotId} is as of {t:O}: its labels need ratings until {until:O}, after the watermark {query.Watermark:O}");
        }

        // Labels: each member's ratings with event time in (T, T + horizon], current as known at the watermark;
        // several members at once (the throttled batch interface still admits its own few at a time).
        var labels = new System.Collections.Concurrent.ConcurrentDictionary<string, IReadOnlyList<Fact>>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(snapshot.Members, new ParallelOptions { MaxDegreeOfParallelism = ReadParallelism, CancellationToken = cancellationToken }, async (member, ct) =>
            labels[member.Member] = (await archive.ReadAllAsync(new BatchQuery(member.Member, null, FactKind.Rating, t, until.AddTicks(1), query.Watermark, false, 1000, null), ct))
                .Select(f => f.Fact).Where(f => f.EventTime > t && f.EventTime <= until).OrderBy(f => f.EventTime).ThenBy(f => f.Id, StringComparer.Ordinal).ToList());

        return FromSnapshot(snapshot, labels, query, encoder);
    }

    /// <summary>The set from a loaded snapshot and each member's ratings after T (tests call it directly).</summary>
    public static SourcedTrainingSet FromSnapshot(LoadedContextSnapshot snapshot, IReadOnlyDictionary<string, IReadOnlyList<Fact>> ratingsAfter, TrainingSetQuery query, FeatureEncoder encoder)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(ratingsAfter);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(encoder);
        var t = snapshot.Manifest.AsOf;
        var popular = Ranking.ServingData.MostPopular(snapshot.TitleStats, 300);
        var random = new Random(query.Options.Seed);
        var train = new List<TrainingExample>();
        var validation = new List<TrainingExample>();
        var trainContexts = new List<RowContext>();
        var validationContexts = new List<RowContext>();
        foreach (var member in snapshot.Members)
        {
            var next = ratingsAfter.GetValueOrDefault(member.Member) ?? [];
            if (next.Count == 0)
            {
                continue;
            }

            var held = FeatureLogSampler.StableHash(member.Member) % 1000 < query.Options.ValidationShare * 1000;
            var (rows, contexts) = held ? (validation, validationContexts) : (train, trainContexts);
            var profile = snapshot.Profile(encoder, member);
            var seen = member.Facts.Select(f => f.Title).Concat(next.Select(f => f.Title)).OfType<string>().ToHashSet(StringComparer.Ordinal);
            foreach (var rating in next)
            {
                rows.Add(new TrainingExample(encoder.Encode(profile, rating.Title!), rating.IsLike));
                contexts.Add(new RowContext(member.Member, rating.Title!, t));
                for (var n = 0; n < query.Options.NegativesPerExample && popular.Count > 0; n++)
                {
                    var title = popular[random.Next(popular.Count)];
                    if (!seen.Contains(title))
                    {
                        rows.Add(new TrainingExample(encoder.Encode(profile, title), false));
                        contexts.Add(new RowContext(member.Member, title, t));
                    }
                }
            }
        }

        var set = new TrainingSet(train, validation, t, t + query.Options.Horizon, Contexts: [.. trainContexts, .. validationContexts]);
        var lineage = new TrainingSetLineage(TrainingSetSources.ContextSnapshot, set.From, set.To, "context-snapshot:" + snapshot.Manifest.Id, encoder.ConfigHash, train.Count, validation.Count);

        // The scan recomputes every row from only what was known at T: the snapshot's facts, and its title statistics as a version as of T.
        var facts = snapshot.Members.SelectMany(m => m.Facts).Concat(snapshot.CatalogFacts).ToList();
        var version = new DerivedVersion(DerivedDatasets.TitleStats, "snapshot:" + snapshot.Manifest.Id, DerivedVersionStatus.Published, snapshot.TitleStats.Watermark, [],
            PrecomputeCode.Hash(encoder.ConfigHash), 1, new Dictionary<string, long>(), t, t, null, null, null);
        var timeline = new TitleStatsTimeline(new Dictionary<DateTimeOffset, LoadedTitleStats> { [t] = new(version, snapshot.TitleStats) });
        return TrainingSetSources.Checked(set, lineage, LeakageScan.Scan(set, facts, encoder, timeline));
    }
}

/// <summary>
/// Time travel over the bitemporal archive (the existing <see cref="TrainingSetBuilder"/>): every fact
/// known at the watermark, features recomputed at each monthly cutoff from what was known then (the
/// title-stats version current at each cutoff when there was one), labels from the horizon after it.
/// For a feature that was never logged. Reads the fact snapshot at the watermark, cut the cheapest way
/// the archive allows (<see cref="IncrementalSnapshots.CutAsync"/>: an earlier snapshot plus the ingest
/// journal's files since, as training does; a full read of the batch interface only for an archive
/// written before its journal).
/// </summary>
public sealed class TimeTravelSource(IncrementalSnapshots snapshots, TitleStatsVersions titleStats, FeatureEncoder encoder) : ITrainingSetSource
{
    public string Name => TrainingSetSources.TimeTravel;

    public async Task<SourcedTrainingSet> BuildAsync(TrainingSetQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var cut = await snapshots.CutAsync(query.Watermark, null, cancellationToken);
        var facts = cut.Facts;
        var cutoffs = TrainingSetBuilder.Cutoffs(facts.Where(f => f.Kind == FactKind.Rating && f.IngestTime <= query.Watermark).ToList(), query.Watermark, query.Options);
        var timeline = await titleStats.TimelineAsync(cutoffs, cancellationToken);
        return FromFacts(facts, query, encoder, timeline, string.Create(CultureInfo.InvariantCulture, $"snapshot:{cut.Manifest.Snapshot}:{cut.Manifest.Source}:{facts.Count} facts"));
    }

    /// <summary>The set from facts already read (tests, the benchmark).</summary>
    public static SourcedTrainingSet FromFacts(IReadOnlyList<Fact> facts, TrainingSetQuery query, FeatureEncoder encoder, TitleStatsTimeline? timeline, string reference)
    {
        ArgumentNullException.ThrowIfNull(facts);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(encoder);
        var set = TrainingSetBuilder.Build(facts, query.Watermark, encoder, query.Options, timeline);
        var lineage = new TrainingSetLineage(TrainingSetSources.TimeTravel, set.From, set.To, reference, encoder.ConfigHash, set.Train.Count, set.Validation.Count);
        var known = facts.Where(f => f.IngestTime <= query.Watermark).ToList();
        return TrainingSetSources.Checked(set, lineage, LeakageScan.Scan(set, known, encoder, timeline));
    }
}
