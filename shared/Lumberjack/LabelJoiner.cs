using Microsoft.Extensions.Options;
using Serverless.Archive;
using Serverless.Facts;

namespace Serverless.Lumberjack;

/// <summary>
/// What one label run did. Files: landed files labelled by this run. Conflicts: files whose labels
/// another run (the hourly timer and an operator's request, say) wrote between this run's read and
/// its write; that run's labels stand, and the next run inside the late window checks them again.
/// </summary>
public sealed record LabelRunResult(int Files, int Members, int Labelled, int Liked, int Changed, int StillOpen, int Conflicts);

/// <summary>
/// Joins labels to logged impressions: an impression of title X for member M at time t is labelled,
/// once its horizon (t, t + LabelHorizon] has closed, with whether M rated X >= 4 in that horizon, as
/// the archive knows it now. The unit is a landed file: it is labelled once the horizon of its last
/// request has closed (until then its impressions stay open), and labelled again on every run until
/// that horizon is more than the late window ago, so late or corrected facts update its labels;
/// then its labels are final. Each member's ratings are read once per run (the recent-history
/// entity, else the archive's batch interface), however many files hold the member's requests;
/// members are read, and files labelled, several at once.
/// </summary>
public sealed class LabelJoiner(FeatureLogStore log, ArchiveReader reader, IOptions<LumberjackOptions> options, TimeProvider time)
{
    /// <summary>Members whose ratings are read at once.</summary>
    public const int ReadParallelism = 8;

    public async Task<LabelRunResult> RunAsync(CancellationToken cancellationToken = default)
    {
        var o = options.Value;
        var now = time.GetUtcNow();
        var closedBefore = now - o.LabelHorizon;
        var open = await log.ListAsync(openOnly: true, cancellationToken);
        var due = open.Where(f => f.MaxRequestTime <= closedBefore).ToList();
        var stillOpen = open.Where(f => f.MaxRequestTime > closedBefore).Sum(f => f.Impressions);

        var requests = new List<LandedRequest>[due.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, due.Count), new ParallelOptions { MaxDegreeOfParallelism = FeatureLogStore.ReadParallelism, CancellationToken = cancellationToken },
            async (i, ct) => requests[i] = await log.ReadRequestsAsync(due[i], ct));

        // One read of each member's ratings, from their earliest due request on.
        var members = requests.SelectMany(r => r).GroupBy(r => r.Member, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Min(r => r.RequestTime), StringComparer.Ordinal);
        // Members are read several at once (a point read each, usually); the throttled batch interface
        // still admits its own few at a time.
        var ratings = new System.Collections.Concurrent.ConcurrentDictionary<string, List<Fact>>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(members, new ParallelOptions { MaxDegreeOfParallelism = ReadParallelism, CancellationToken = cancellationToken },
            async (m, ct) => ratings[m.Key] = await RatingsAsync(m.Key, m.Value, now, ct));

        // Files are labelled several at once: each has its own labels blob (ETag-guarded) and index row.
        int labelled = 0, liked = 0, changed = 0, conflicts = 0;
        var marks = new System.Collections.Concurrent.ConcurrentQueue<(LandedFile, bool)>();
        await Parallel.ForEachAsync(Enumerable.Range(0, due.Count), new ParallelOptions { MaxDegreeOfParallelism = FeatureLogStore.ReadParallelism, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var file = due[i];
                var final = file.MaxRequestTime + o.LabelHorizon + o.LateWindow <= now;
                var labels = requests[i].Select(r => Label(r, ratings[r.Member], o.LabelHorizon)).ToList();
                Interlocked.Add(ref labelled, labels.Sum(l => l.Labels.Length));
                Interlocked.Add(ref liked, labels.Sum(l => l.Labels.Count(x => x)));

                // A file never labelled has no labels yet: write them (only if none exist) without reading first;
                // when some exist after all (a concurrent run, or one that stopped before marking the file), compare as below.
                if (file.LabelledAt is null && await log.WriteLabelsAsync(file, labels, null, ct))
                {
                    Interlocked.Add(ref changed, labels.Sum(l => l.Labels.Length));
                    marks.Enqueue((file, final));
                    return;
                }

                var previous = await log.ReadLabelsAsync(file, ct);
                var differing = labels.Sum(l => Differences(l, previous?.Labels.GetValueOrDefault(l.LogId)));
                if (differing > 0 || previous is null)
                {
                    if (!await log.WriteLabelsAsync(file, labels, previous?.ETag, ct))
                    {
                        Interlocked.Increment(ref conflicts);
                        return;
                    }

                    Interlocked.Add(ref changed, differing);
                }

                marks.Enqueue((file, final));
            });

        // The files whose labels are written are marked together: their index rows go in a few transactions.
        await log.MarkLabelledAsync(marks.ToArray(), now, cancellationToken);
        return new LabelRunResult(due.Count, members.Count, labelled, liked, changed, stillOpen, conflicts);
    }

    /// <summary>A request's labels: for each impression, the first rating of its title within the horizon after the request.</summary>
    private static RequestLabels Label(LandedRequest request, List<Fact> ratings, TimeSpan horizon)
    {
        var labels = new bool[request.Records.Count];
        var facts = new string[request.Records.Count];
        var at = request.RequestTime;
        for (var i = 0; i < labels.Length; i++)
        {
            var title = request.Records[i].Title;
            var hit = ratings.FirstOrDefault(f => f.Title == title && f.EventTime > at && f.EventTime <= at + horizon);
            labels[i] = hit is not null && hit.IsLike;
            facts[i] = hit?.Id ?? "";
        }

        return new RequestLabels(request.LogId, labels, facts);
    }

    private static int Differences(RequestLabels now, RequestLabels? before)
    {
        if (before is null || before.Labels.Length != now.Labels.Length)
        {
            return now.Labels.Length;
        }

        var n = 0;
        for (var i = 0; i < now.Labels.Length; i++)
        {
            if (now.Labels[i] != before.Labels[i] || now.FactIds[i] != before.FactIds[i])
            {
                n++;
            }
        }

        return n;
    }

    /// <summary>
    /// The member's current ratings with event time after <paramref name="from"/>, oldest first: one
    /// point read of the member's recent history when it holds them all (the usual case: labels
    /// look at the last weeks), else the archive's throttled batch interface.
    /// </summary>
    private async Task<List<Fact>> RatingsAsync(string member, DateTimeOffset from, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var archived = await reader.RecentSinceAsync(member, from, now, cancellationToken)
            ?? await reader.ReadAllAsync(new BatchQuery(member, null, FactKind.Rating, from, null, now, false, 200, null), cancellationToken);
        var facts = archived.Select(f => f.Fact).Where(f => f.Kind == FactKind.Rating).ToList();
        facts.Sort((a, b) => a.EventTime.CompareTo(b.EventTime));
        return facts;
    }
}
