using System.Globalization;
using DuckDB.NET.Data;
using Serverless.Events;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.TimeMachine;

/// <summary>
/// Point-in-time correctness against a peer: randomized fact sets (seeded) with late arrivals,
/// corrections, retractions and events dated a little after their ingest, stored through the real
/// archive on Azurite; then, for many (member, T), the archive's as-of reads and the encoder's member
/// features are compared with what DuckDB computes over the same facts with SQL written from the spec
/// (docs/features.md and the as-of rule: usable at T when event time &lt;= T and ingest time &lt;= T;
/// hidden at T by a fact that supersedes it with ingest time &lt;= T; newest first by event time then
/// id; the history limit). DuckDB is the oracle here, not our code.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class PointInTimeOracleTests(AzuriteFixture azurite)
{
    /// <summary>A small history limit, so the limit's cut is exercised too.</summary>
    private static readonly FeatureConfig Config = FeatureConfig.Default with { HistoryLimit = 6 };

    /// <summary>
    /// The oracle: per query (member, t), the as-of history's ids (newest first), and the five member
    /// features of docs/features.md over the newest <c>$limit</c> of them. Times are UTC ticks.
    /// </summary>
    public const string OracleSql = """
        WITH visible AS (
            SELECT q.qid, f.id, f.value, f.event
            FROM queries q JOIN facts f ON f.member = q.member
            WHERE f.kind = 'rating' AND f.event <= q.t AND f.ingest <= q.t
              AND NOT EXISTS (SELECT 1 FROM facts s WHERE s.member = f.member AND s.supersedes = f.id AND s.ingest <= q.t)
        ), ranked AS (
            SELECT *, row_number() OVER (PARTITION BY qid ORDER BY event DESC, id ASC) AS rn FROM visible
        ), agg AS (
            SELECT q.qid, q.t,
                   coalesce(string_agg(r.id, ',' ORDER BY r.rn), '') AS ids,
                   count(r.id) FILTER (WHERE r.rn <= $limit) AS n,
                   coalesce(sum(r.value) FILTER (WHERE r.rn <= $limit), 0) AS total,
                   count(r.id) FILTER (WHERE r.rn <= $limit AND r.value >= $like) AS likes,
                   max(r.event) FILTER (WHERE r.rn <= $limit) AS newest,
                   count(r.id) FILTER (WHERE r.rn <= $limit AND r.event > q.t - $recent) AS recent
            FROM queries q LEFT JOIN ranked r ON r.qid = q.qid
            GROUP BY q.qid, q.t
        )
        SELECT qid, ids,
               ln(1 + n) AS f0,
               CASE WHEN n + $prior > 0 THEN (total + $prior * $mu) / (n + $prior) ELSE $mu END AS f1,
               CASE WHEN n + $prior > 0 THEN (likes + $prior * $lambda) / (n + $prior) ELSE $lambda END AS f2,
               CASE WHEN n = 0 THEN ln(1 + 3650) ELSE ln(1 + greatest(0, (t - newest) / 864000000000.0)) END AS f3,
               ln(1 + recent) AS f4
        FROM agg ORDER BY qid
        """;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task As_of_reads_and_member_features_equal_DuckDB_over_random_facts_with_late_corrected_and_retracted_facts(int seed)
    {
        using var h = new ArchiveHarness(azurite);
        var random = new Random(seed);
        var facts = await IngestRandomAsync(h, random);
        Assert.Contains(facts, f => f.Kind == FactKind.Retraction);
        Assert.Contains(facts, f => f.Kind == FactKind.Rating && f.Supersedes is not null);
        Assert.Contains(facts, f => f.IngestTime - f.EventTime > TimeSpan.FromDays(20));
        Assert.Contains(facts, f => f.EventTime > f.IngestTime);

        // Query times: random, and exactly at ingest and event times (the <= boundaries), never after now.
        var first = facts.Min(f => f.IngestTime);
        var now = h.Clock.GetUtcNow();
        var members = facts.Select(f => f.Member!).Distinct().Order(StringComparer.Ordinal).ToList();
        var queries = new List<(string Member, DateTimeOffset T)>();
        foreach (var member in members)
        {
            var own = facts.Where(f => f.Member == member).ToList();
            for (var i = 0; i < 6; i++)
            {
                queries.Add((member, first.AddDays(-2) + (now - first.AddDays(-2)) * random.NextDouble()));
            }

            queries.AddRange(own.OrderBy(_ => random.Next()).Take(4).SelectMany(f => new[] { (member, f.IngestTime), (member, f.EventTime <= now ? f.EventTime : f.IngestTime) }));
        }

        var oracle = Oracle(facts, queries, Config, TitleStatsSnapshot.Empty(first.AddYears(-1), Config));

        var encoder = new FeatureEncoder(Config);
        var empty = TitleStatsSnapshot.Empty(first.AddYears(-1), Config);
        var byMember = facts.GroupBy(f => f.Member!).ToDictionary(g => g.Key, g => (IReadOnlyList<Fact>)g.ToList());
        var mismatches = new List<string>();
        for (var q = 0; q < queries.Count; q++)
        {
            var (member, t) = queries[q];
            var (ids, features) = oracle[q];

            // The archive's as-of reads: everything, and the newest `limit` (the live interface serving uses).
            var all = await h.Reader.HistoryAsync(member, 1000, t);
            if (!all.Select(f => f.Fact.Id).SequenceEqual(ids))
            {
                mismatches.Add($"archive read of {member} at {t:O}: [{string.Join(",", all.Select(f => f.Fact.Id))}] vs DuckDB [{string.Join(",", ids)}]");
            }

            var limited = await h.Reader.HistoryAsync(member, Config.HistoryLimit, t);
            if (!limited.Select(f => f.Fact.Id).SequenceEqual(ids.Take(Config.HistoryLimit)))
            {
                mismatches.Add($"limited archive read of {member} at {t:O}");
            }

            // The encoder's member features from everything ever stored for the member (it applies the as-of rule itself).
            var profile = encoder.Profile(new MemberHistory(member, byMember[member]), t, Catalog.Build([], t), empty);
            for (var f = 0; f < features.Length; f++)
            {
                var ours = profile.MemberFeatures[f];
                var theirs = (float)features[f];
                if (Math.Abs(ours - theirs) > 1e-6 * Math.Max(1, Math.Abs(theirs)))
                {
                    mismatches.Add($"{FeatureNames.All[f]} of {member} at {t:O}: ours {ours:R}, DuckDB {theirs:R}");
                }
            }
        }

        Assert.True(queries.Count >= 80, $"{queries.Count} queries");
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {queries.Count} queries differ from DuckDB:\n" + string.Join("\n", mismatches.Take(20)));

        // The oracle is not vacuous: somewhere a correction changed a value, a retraction hid one and a late fact appeared later.
        Assert.Contains(oracle, o => o.Ids.Length == 0);
        Assert.Contains(oracle, o => o.Ids.Length > Config.HistoryLimit);
    }

    [Fact]
    public void The_oracle_sees_what_the_spec_says_on_a_hand_made_case()
    {
        var t0 = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Fact Rating(string id, double value, DateTimeOffset evt, DateTimeOffset ingest, string? supersedes = null) => new(id, FactKind.Rating, "m", "1", value, evt, ingest, supersedes);
        var facts = new List<Fact>
        {
            Rating("a", 2, t0, t0),
            Rating("late", 5, t0.AddDays(1), t0.AddDays(10)),
            Rating("a2", 4, t0, t0.AddDays(5), supersedes: "a"),
            new("r", FactKind.Retraction, "m", null, null, t0.AddDays(7), t0.AddDays(7), "late"),
        };
        var queries = new List<(string, DateTimeOffset)> { ("m", t0.AddDays(2)), ("m", t0.AddDays(5)), ("m", t0.AddDays(6)), ("m", t0.AddDays(10)), ("m", t0.AddDays(-1)) };

        var oracle = Oracle(facts, queries, Config, TitleStatsSnapshot.Empty(t0.AddDays(-10), Config));

        Assert.Equal(["a"], oracle[0].Ids);
        Assert.Equal(["a2"], oracle[1].Ids); // the correction known at its ingest time replaces the value
        Assert.Equal(["a2"], oracle[2].Ids);
        Assert.Equal(["a2"], oracle[3].Ids); // the late rating arrives after its retraction was known
        Assert.Empty(oracle[4].Ids);
        Assert.Equal(Math.Log(2), oracle[1].Features[0], 12);
    }

    /// <summary>Runs <see cref="OracleSql"/> in an in-memory DuckDB over <paramref name="facts"/>.</summary>
    public static List<(string[] Ids, double[] Features)> Oracle(IReadOnlyList<Fact> facts, IReadOnlyList<(string Member, DateTimeOffset T)> queries, FeatureConfig config, TitleStatsSnapshot stats)
    {
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE facts (id VARCHAR, kind VARCHAR, member VARCHAR, value DOUBLE, event BIGINT, ingest BIGINT, supersedes VARCHAR); CREATE TABLE queries (qid INTEGER, member VARCHAR, t BIGINT);";
            create.ExecuteNonQuery();
        }

        using (var appender = connection.CreateAppender("facts"))
        {
            foreach (var f in facts)
            {
                var row = appender.CreateRow().AppendValue(f.Id).AppendValue(f.Kind.ToString().ToLowerInvariant()).AppendValue(f.Member);
                row = f.Value is { } v ? row.AppendValue(v) : row.AppendNullValue();
                row = row.AppendValue(f.EventTime.UtcTicks).AppendValue(f.IngestTime.UtcTicks);
                row = f.Supersedes is { } s ? row.AppendValue(s) : row.AppendNullValue();
                row.EndRow();
            }
        }

        using (var appender = connection.CreateAppender("queries"))
        {
            for (var q = 0; q < queries.Count; q++)
            {
                appender.CreateRow().AppendValue(q).AppendValue(queries[q].Member).AppendValue(queries[q].T.UtcTicks).EndRow();
            }
        }

        using var command = connection.CreateCommand();
        command.CommandText = OracleSql;
        command.Parameters.Add(new DuckDBParameter("limit", (long)config.HistoryLimit));
        command.Parameters.Add(new DuckDBParameter("like", config.LikeThreshold));
        command.Parameters.Add(new DuckDBParameter("recent", config.RecentWindowDays * TimeSpan.TicksPerDay));
        command.Parameters.Add(new DuckDBParameter("prior", config.PriorCount));
        command.Parameters.Add(new DuckDBParameter("mu", stats.GlobalMeanRating));
        command.Parameters.Add(new DuckDBParameter("lambda", stats.GlobalLikeRate));
        var results = new List<(string[] Ids, double[] Features)>(queries.Count);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var ids = reader.GetString(1);
            results.Add((ids.Length == 0 ? [] : ids.Split(','), Enumerable.Range(2, 5).Select(reader.GetDouble).ToArray()));
        }

        Assert.Equal(queries.Count, results.Count);
        return results;
    }

    /// <summary>
    /// 25 rounds of ingestion a day apart: new ratings (some arriving weeks after they happened, a few
    /// dated an hour after their ingest), corrections and retractions of earlier ratings. Returns the
    /// facts as stored (ingest time = the round's enqueued time).
    /// </summary>
    private static async Task<List<Fact>> IngestRandomAsync(ArchiveHarness h, Random random)
    {
        var facts = new List<Fact>();
        var current = new List<Fact>();
        var n = 0;
        for (var round = 0; round < 25; round++)
        {
            h.Clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromMinutes(random.Next(600)));
            var now = h.Clock.GetUtcNow();
            var batch = new List<(FactEnvelope Envelope, Fact Fact)>();
            var targets = current.ToList();
            for (var k = 0; k < 10; k++)
            {
                var roll = random.NextDouble();
                if (roll < 0.15 && targets.Count > 0)
                {
                    var target = targets[random.Next(targets.Count)];
                    targets.Remove(target);
                    current.Remove(target);
                    var value = 0.5 + (random.Next(10) * 0.5);
                    var fixedFact = new Fact($"rating:{target.Member}:{target.Title}:c{n++}", FactKind.Rating, target.Member, target.Title, value, target.EventTime, now, target.Id);
                    batch.Add((new FactEnvelope { Id = fixedFact.Id, Kind = "rating", Member = target.Member, Title = target.Title, Value = value, EventTime = target.EventTime, Supersedes = target.Id }, fixedFact));
                    current.Add(fixedFact);
                }
                else if (roll < 0.27 && targets.Count > 0)
                {
                    var target = targets[random.Next(targets.Count)];
                    targets.Remove(target);
                    current.Remove(target);
                    var retraction = new Fact($"retraction:{target.Id}", FactKind.Retraction, target.Member, null, null, now, now, target.Id);
                    batch.Add((new FactEnvelope { Id = retraction.Id, Kind = "retraction", Member = target.Member, EventTime = now, Supersedes = target.Id }, retraction));
                }
                else
                {
                    var member = random.Next(8).ToString(CultureInfo.InvariantCulture);
                    var title = random.Next(15).ToString(CultureInfo.InvariantCulture);
                    var late = random.NextDouble() < 0.25;
                    var evt = random.NextDouble() < 0.05 ? now.AddHours(1) : now.AddMinutes(-random.Next(late ? 60 * 24 * 40 : 60 * 24));
                    var value = 0.5 + (random.Next(10) * 0.5);
                    var rating = new Fact($"rating:{member}:{title}:{n++}", FactKind.Rating, member, title, value, evt, now);
                    batch.Add((new FactEnvelope { Id = rating.Id, Kind = "rating", Member = member, Title = title, Value = value, EventTime = evt }, rating));
                    current.Add(rating);
                }
            }

            await h.Archive.IngestAsync(batch.Select(b => h.Event(b.Envelope)).ToList());
            facts.AddRange(batch.Select(b => b.Fact));
        }

        return facts;
    }
}
