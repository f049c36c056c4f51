using Microsoft.Extensions.Logging;
using Serverless.Archive;
using Serverless.Features;
using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.Precompute;
using Serverless.Ranking;
using Serverless.Training;

namespace Serverless.TimeMachine;

/// <summary>What to measure: logged requests from <paramref name="Since"/> on (all when null), at most <paramref name="MaxRequests"/> of them.</summary>
public sealed record SkewMeterRequest(DateTimeOffset? Since = null, int MaxRequests = 500)
{
    public const int MaxAllowedRequests = 100_000;

    public void Validate()
    {
        if (MaxRequests is < 1 or > MaxAllowedRequests)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRequests), MaxRequests, $"maxRequests must be 1..{MaxAllowedRequests}");
        }
    }
}

/// <summary>One feature's agreement between what serving logged and what the offline code recomputes.</summary>
public sealed record FeatureSkew(string Feature, long Compared, long Mismatches, double MaxAbsDifference)
{
    public double MismatchRate => Compared == 0 ? 0 : (double)Mismatches / Compared;
}

/// <summary>
/// The skew meter's answer: per feature, how many logged values the offline recomputation did not
/// reproduce bit for bit and by how much at most; requests it could not recompute, by reason.
/// </summary>
public sealed record SkewReport(
    DateTimeOffset MeasuredAt,
    int RequestsLogged,
    int RequestsCompared,
    long ValuesCompared,
    long Mismatches,
    IReadOnlyList<FeatureSkew> Features,
    IReadOnlyDictionary<string, int> Skipped)
{
    /// <summary>The features with at least one mismatch, worst first.</summary>
    public IEnumerable<FeatureSkew> Skewed => Features.Where(f => f.Mismatches > 0).OrderByDescending(f => f.MismatchRate).ThenBy(f => f.Feature, StringComparer.Ordinal);

    public string Summary() => (Mismatches == 0
        ? $"skew meter: {RequestsCompared} logged requests recomputed offline, {ValuesCompared} feature values, 0 mismatches"
        : $"skew meter: {Mismatches} of {ValuesCompared} feature values differ in {RequestsCompared} requests: "
          + string.Join(", ", Skewed.Select(f => $"{f.Feature} {f.MismatchRate:P1} (max |diff| {f.MaxAbsDifference:G4})")))
        + (Skipped.Count == 0 ? "" : "; not compared: " + string.Join(", ", Skipped.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Value} {s.Key}")));
}

/// <summary>
/// The platform's guard against training/serving skew: takes logged requests (the Lumberjack's
/// vectors exactly as served), recomputes each vector offline with the same code path serving uses
/// (<see cref="RankService.ProfileOf"/> and the encoder) from the archive as of the logged watermark
/// and the serving model's data (title statistics: the derived version current at the request time,
/// as training reads them), and counts, per feature, the values that differ. Any mismatch is
/// skew: serving and the Time Machine would train on different numbers for the same moment.
/// </summary>
public sealed class SkewMeter(FeatureLogStore featureLog, ArchiveReader archive, ModelStore models, FactSnapshotStore snapshots, TitleStatsVersions titleStats, FeatureEncoder encoder, TimeProvider time, ILogger<SkewMeter> logger, Hosting.PlatformMetrics metrics)
{
    public const string SkippedSubstitute = "served by the Substitute";
    public const string SkippedOtherConfig = "logged with another feature config";
    public const string SkippedNoData = "the serving model or its snapshot is gone";
    public const string SkippedWidth = "logged vector has another width";

    /// <summary>Model versions whose serving data the meter keeps between runs (the hourly run reads the same few).</summary>
    public const int CachedVersions = 4;

    /// <summary>History reads in flight at once.</summary>
    public const int ReadParallelism = 8;

    private readonly Dictionary<string, ServingData?> data = new(StringComparer.Ordinal);

    public async Task<SkewReport> MeasureAsync(SkewMeterRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        var since = request.Since ?? DateTimeOffset.MinValue;
        // Only the files the sample needs are read (a window of heavy traffic holds far more than a
        // sample): whole files in a stable order by name hash until they hold enough requests.
        var files = (await featureLog.ListAsync(openOnly: false, cancellationToken)).Where(f => f.MaxRequestTime >= since).ToList();
        var chosen = new HashSet<string>(StringComparer.Ordinal);
        var inChosen = 0L;
        foreach (var file in files.OrderBy(f => FeatureLogSampler.StableHash(f.Id)).ThenBy(f => f.Id, StringComparer.Ordinal))
        {
            if (inChosen >= request.MaxRequests)
            {
                break;
            }

            chosen.Add(file.Id);
            inChosen += file.Requests;
        }

        var logged = chosen.Count == 0 ? [] : await featureLog.ReadAsync(f => chosen.Contains(f.Id), cancellationToken);
        var requests = logged
            .Where(i => i.Record.RequestTime >= since)
            .GroupBy(i => i.Record.LogId, StringComparer.Ordinal)
            .Select(g => g.Select(i => i.Record).OrderBy(r => r.Position).ToList())
            .ToList();

        // A deterministic sample: the same logs give the same requests, spread over members and time.
        var sample = requests.OrderBy(r => FeatureLogSampler.StableHash(r[0].LogId)).ThenBy(r => r[0].LogId, StringComparer.Ordinal).Take(request.MaxRequests).ToList();

        var names = encoder.Names;
        var compared = new long[names.Count];
        var mismatches = new long[names.Count];
        var maxDiff = new double[names.Count];
        var skipped = new Dictionary<string, int>(StringComparer.Ordinal);
        var recomputed = new float[names.Count];

        // Title statistics as training by time travel reads them: the derived version current at the request time, else the model's snapshot.
        var timeline = await titleStats.TimelineAsync(sample.Select(r => r[0].RequestTime), cancellationToken);
        var work = new List<(List<FeatureLogRecord> Records, ServingData Data)>(sample.Count);
        foreach (var records in sample)
        {
            var first = records[0];
            var reason = first.Fallback ? SkippedSubstitute
                : first.ConfigHash != encoder.ConfigHash ? SkippedOtherConfig
                : records.Any(r => r.Features.Length != names.Count) ? SkippedWidth
                : null;
            var served = reason is null ? await DataOfAsync(first.ModelVersion, cancellationToken) : null;
            if (reason is not null || served is null)
            {
                reason ??= SkippedNoData;
                skipped[reason] = skipped.GetValueOrDefault(reason) + 1;
                continue;
            }

            work.Add((records, served));
        }

        // The members' histories as of each logged history watermark (the newest ingest time among the
        // facts serving's read returned; older logs: the read's time): point-in-time reads, one batch
        // read per member for all its requests (one entity read, at most one read of its fact rows),
        // several members at once.
        var histories = new IReadOnlyList<ArchivedFact>[work.Count];
        var byMember = Enumerable.Range(0, work.Count)
            .Where(i => work[i].Records[0].HistoryAsOf > FeatureLogRecord.NoHistory)
            .GroupBy(i => work[i].Records[0].Member, StringComparer.Ordinal)
            .Select(g => (Member: g.Key, Requests: g.ToList()))
            .ToList();
        for (var i = 0; i < work.Count; i++)
        {
            histories[i] = [];
        }

        await Parallel.ForEachAsync(byMember, new ParallelOptions { MaxDegreeOfParallelism = ReadParallelism, CancellationToken = cancellationToken },
            async (m, ct) =>
            {
                var read = await archive.HistoriesAsync(m.Member, encoder.Config.HistoryLimit, m.Requests.Select(i => work[i].Records[0].HistoryAsOf).ToList(), ct);
                for (var r = 0; r < m.Requests.Count; r++)
                {
                    histories[m.Requests[r]] = read[r];
                }
            });

        for (var w = 0; w < work.Count; w++)
        {
            var (records, served) = work[w];
            var first = records[0];
            var profile = RankService.ProfileOf(encoder, first.Member, histories[w], first.RequestTime, served, timeline.At(first.RequestTime)?.Stats);
            foreach (var record in records)
            {
                encoder.Encode(profile, record.Title, recomputed);
                for (var f = 0; f < names.Count; f++)
                {
                    compared[f]++;
                    if (BitConverter.SingleToInt32Bits(recomputed[f]) != BitConverter.SingleToInt32Bits(record.Features[f]))
                    {
                        mismatches[f]++;
                        maxDiff[f] = Math.Max(maxDiff[f], Math.Abs((double)recomputed[f] - record.Features[f]));
                    }
                }
            }
        }

        var done = work.Count;
        var features = names.Select((name, f) => new FeatureSkew(name, compared[f], mismatches[f], maxDiff[f])).ToList();
        var report = new SkewReport(time.GetUtcNow(), (int)Math.Min(int.MaxValue, files.Sum(f => (long)f.Requests)), done, compared.Sum(), mismatches.Sum(), features, skipped);
        metrics.SkewMeasured(report.RequestsCompared, report.ValuesCompared, features.Select(f => (f.Feature, f.Mismatches)));
        if (report.Mismatches > 0)
        {
            logger.LogError("Training/serving skew: {Summary}", report.Summary());
        }
        else if (report.RequestsCompared > 0)
        {
            logger.LogInformation("{Summary}", report.Summary());
        }

        return report;
    }

    /// <summary>The data a model served with (its fact snapshot), loaded once per version and kept for the next runs; null when it is gone.</summary>
    private async Task<ServingData?> DataOfAsync(string version, CancellationToken cancellationToken)
    {
        lock (data)
        {
            if (data.TryGetValue(version, out var cached))
            {
                return cached;
            }
        }

        var snapshot = await models.GetManifestAsync(version, cancellationToken) is { } manifest ? TrainingJob.SnapshotOf(manifest) : null;
        var loaded = snapshot is not null && await snapshots.ExistsAsync(snapshot, cancellationToken)
            ? ServingData.FromSnapshot(await snapshots.LoadAsync(snapshot, cancellationToken), snapshot, encoder.Config)
            : null;
        lock (data)
        {
            if (data.Count >= CachedVersions)
            {
                data.Clear();
            }

            data[version] = loaded;
        }

        return loaded;
    }
}
