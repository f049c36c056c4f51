using System.Net;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;
using Serverless.Archive;
using Serverless.Facts;

namespace Serverless.Lumberjack;

/// <summary>
/// What one label run did. Conflicts: rows another run (the hourly timer and an operator's request,
/// say) updated between this run's read and its write; that run's label stands, and the next run
/// inside the late window checks it again.
/// </summary>
public sealed record LabelRunResult(int Members, int Labelled, int Liked, int Changed, int StillOpen, int Conflicts);

/// <summary>
/// Joins labels to logged impressions: an impression of title X for member M at time t is labelled,
/// once its horizon (t, t + LabelHorizon] has closed, with whether M rated X >= 4 in that horizon, as
/// the archive knows it now. Impressions whose horizon is open stay unlabelled. Labels are recomputed
/// for impressions whose horizon closed within the late window, so late or corrected facts update them.
/// </summary>
public sealed class LabelJoiner(FeatureLogStore log, ArchiveReader reader, IOptions<LumberjackOptions> options, TimeProvider time)
{
    public async Task<LabelRunResult> RunAsync(CancellationToken cancellationToken = default)
    {
        var o = options.Value;
        var now = time.GetUtcNow();
        var closedBefore = now - o.LabelHorizon;
        int members = 0, labelled = 0, liked = 0, changed = 0, open = 0, conflicts = 0;
        string? after = null;
        while (true)
        {
            var partitions = await log.Partitions.ListAsync(after, 500, cancellationToken);
            if (partitions.Count == 0)
            {
                break;
            }

            after = partitions[^1];
            foreach (var partition in partitions.Where(p => p.StartsWith(FactPartition.MemberPrefix, StringComparison.Ordinal)))
            {
                var member = partition[FactPartition.MemberPrefix.Length..];
                var due = await log.DueForLabelsAsync(member, closedBefore - o.LateWindow, now, cancellationToken);
                if (due.Count == 0)
                {
                    continue;
                }

                members++;
                var ratings = await RatingsAsync(member, due.Min(r => r.GetDateTimeOffset("RequestTime")!.Value), now, cancellationToken);
                foreach (var row in due)
                {
                    var at = row.GetDateTimeOffset("RequestTime")!.Value;
                    if (at > closedBefore)
                    {
                        open++;
                        continue;
                    }

                    var title = row.GetString("Title");
                    var hit = ratings.FirstOrDefault(f => f.Title == title && f.EventTime > at && f.EventTime <= at + o.LabelHorizon);
                    var label = hit is not null && hit.IsLike;
                    labelled++;
                    if (label) { liked++; }
                    if (row.GetBoolean("Labelled") == true && row.GetBoolean("Label") == label && (row.GetString("LabelFactId") ?? "") == (hit?.Id ?? ""))
                    {
                        continue;
                    }

                    try
                    {
                        await log.Table.UpdateEntityAsync(new TableEntity(row.PartitionKey, row.RowKey)
                        {
                            ["Labelled"] = true,
                            ["Label"] = label,
                            ["LabelFactId"] = hit?.Id ?? "",
                            ["LabelledAt"] = now,
                        }, row.ETag, TableUpdateMode.Merge, cancellationToken);
                        changed++;
                    }
                    catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.PreconditionFailed)
                    {
                        conflicts++;
                    }
                }
            }
        }

        return new LabelRunResult(members, labelled, liked, changed, open, conflicts);
    }

    /// <summary>The member's current ratings with event time after <paramref name="from"/>, oldest first.</summary>
    private async Task<List<Fact>> RatingsAsync(string member, DateTimeOffset from, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var facts = (await reader.ReadAllAsync(new BatchQuery(member, null, FactKind.Rating, from, null, now, false, 200, null), cancellationToken))
            .Select(f => f.Fact).ToList();
        facts.Sort((a, b) => a.EventTime.CompareTo(b.EventTime));
        return facts;
    }
}
