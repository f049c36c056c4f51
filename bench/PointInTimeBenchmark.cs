using System.Diagnostics;
using System.Globalization;
using DuckDB.NET.Data;
using Serverless.Facts;
using Serverless.Features;
using Serverless.MovieLens;
using Serverless.Training;

namespace Serverless.Benchmarks;

/// <summary>
/// Point-in-time correctness and speed against a peer: the training set for MovieLens built by time
/// travel (<see cref="TrainingSetBuilder"/>: every monthly cutoff, features from what was known then),
/// against the same point-in-time join done by DuckDB (in-process) in the same run: for every
/// training row (member, title, cutoff), the member's and the title's features from the ratings known
/// at the cutoff (event time and ingest time at or before it, the history limit newest first). A
/// seeded 5% of ratings arrive late (ingested 1..60 days after they happened), so the ingest-time
/// condition matters. Prints both times, their ratio and how many of the compared values differ.
/// </summary>
public static class PointInTimeBenchmark
{
    /// <summary>The encoder features DuckDB recomputes: member 0..4, title 6..10 (the others read the catalog or genres).</summary>
    public static readonly int[] Compared = [0, 1, 2, 3, 4, 6, 7, 8, 9, 10];

    public const string JoinSql = """
        WITH cut AS (SELECT DISTINCT c FROM rows_),
        known AS (
            SELECT cut.c, f.id, f.member, f.title, f.value, f.event
            FROM cut JOIN facts f ON f.event <= cut.c AND f.ingest <= cut.c
            WHERE f.kind = 'rating'
              AND NOT EXISTS (SELECT 1 FROM facts s WHERE s.supersedes = f.id AND s.ingest <= cut.c)
        ),
        ranked AS (SELECT *, row_number() OVER (PARTITION BY c, member ORDER BY event DESC, id ASC) AS rn FROM known),
        mem AS (
            SELECT c, member, count(*) AS n, sum(value) AS total, count(*) FILTER (WHERE value >= $like) AS likes,
                   max(event) AS newest, count(*) FILTER (WHERE event > c - $recent) AS recent
            FROM ranked WHERE rn <= $limit GROUP BY c, member
        ),
        tit AS (
            SELECT c, title, count(*) AS n, sum(value) AS total, count(*) FILTER (WHERE value >= $like) AS likes,
                   count(*) FILTER (WHERE event > c - $popular) AS recent, max(event) AS last
            FROM known GROUP BY c, title
        ),
        totals AS (SELECT c, sum(value) / count(*) AS mu, count(*) FILTER (WHERE value >= $like) / count(*) AS lambda FROM known GROUP BY c)
        SELECT r.rid,
               ln(1 + coalesce(m.n, 0)),
               (coalesce(m.total, 0) + $prior * coalesce(g.mu, 3.5)) / (coalesce(m.n, 0) + $prior),
               (coalesce(m.likes, 0) + $prior * coalesce(g.lambda, 0.5)) / (coalesce(m.n, 0) + $prior),
               CASE WHEN m.n IS NULL THEN ln(1 + 3650) ELSE ln(1 + greatest(0, (r.c - m.newest) / 864000000000.0)) END,
               ln(1 + coalesce(m.recent, 0)),
               ln(1 + coalesce(t.n, 0)),
               ln(1 + coalesce(t.recent, 0)),
               (coalesce(t.total, 0) + $prior * coalesce(g.mu, 3.5)) / (coalesce(t.n, 0) + $prior),
               (coalesce(t.likes, 0) + $prior * coalesce(g.lambda, 0.5)) / (coalesce(t.n, 0) + $prior),
               CASE WHEN t.n IS NULL THEN ln(1 + 3650) ELSE ln(1 + greatest(0, (r.c - t.last) / 864000000000.0)) END
        FROM rows_ r
        LEFT JOIN mem m ON m.c = r.c AND m.member = r.member
        LEFT JOIN tit t ON t.c = r.c AND t.title = r.title
        LEFT JOIN totals g ON g.c = r.c
        ORDER BY r.rid
        """;

    public static Task RunAsync(string movieLens, int? maxRatings)
    {
        var facts = Facts(MovieLensFacts.Load(movieLens, maxRatings));
        var ratings = facts.Count(f => f.Kind == FactKind.Rating);
        var watermark = facts.Max(f => f.IngestTime);
        var encoder = new FeatureEncoder(FeatureConfig.Default);
        var options = new TrainingSetOptions();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"point in time: {ratings:N0} ratings ({facts.Count(f => f.IngestTime > f.EventTime):N0} late), {facts.Count - ratings:N0} catalog entries, watermark {watermark:O}"));

        // Ours: the time-travel training set, as the training job cuts it.
        var ours = Stopwatch.StartNew();
        var set = TrainingSetBuilder.Build(facts, watermark, encoder, options);
        ours.Stop();
        var rows = set.Train.Concat(set.Validation).ToList();
        var contexts = set.Contexts!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"time travel: {rows.Count:N0} rows at {contexts.Select(c => c.Time).Distinct().Count()} cutoffs in {ours.Elapsed.TotalSeconds:F2} s"));

        // DuckDB: load the same facts and the rows' (member, title, cutoff), then the point-in-time join.
        var duck = Stopwatch.StartNew();
        var values = Join(facts, contexts, encoder.Config);
        duck.Stop();

        long compared = 0, mismatches = 0;
        var examples = new List<string>();
        for (var r = 0; r < rows.Count; r++)
        {
            for (var i = 0; i < Compared.Length; i++)
            {
                compared++;
                var mine = rows[r].Features[Compared[i]];
                var theirs = (float)values[r][i];
                if (Math.Abs(mine - theirs) > 1e-5 * Math.Max(1, Math.Abs(theirs)))
                {
                    mismatches++;
                    if (examples.Count < 5)
                    {
                        examples.Add(string.Create(CultureInfo.InvariantCulture, $"row {r} ({contexts[r].Member}, {contexts[r].Title}, {contexts[r].Time:yyyy-MM-dd}) {encoder.Names[Compared[i]]}: ours {mine:R}, DuckDB {theirs:R}"));
                    }
                }
            }
        }

        Report.Header($"Point-in-time training set vs DuckDB on {Environment.ProcessorCount} cores ({ratings:N0} ratings, {rows.Count:N0} rows)");
        Report.Row("time-travel training set (TrainingSetBuilder), s", ours.Elapsed.TotalSeconds, "s", "DuckDB point-in-time join of the same rows, load + query", duck.Elapsed.TotalSeconds, "<= 1.0");
        Report.Row($"values differing from DuckDB ({Compared.Length} features per row)", mismatches, "values", "values compared", compared, "0 mismatches");
        foreach (var example in examples)
        {
            Console.WriteLine("  mismatch: " + example);
        }

        return Task.CompletedTask;
    }

    /// <summary>MovieLens as facts; a seeded 5% of ratings are ingested 1..60 days after they happened, the rest when they happened.</summary>
    public static List<Fact> Facts(IReadOnlyList<FactEnvelope> envelopes)
    {
        var random = new Random(20261127);
        return envelopes.Select(e =>
        {
            var kind = e.Kind switch { "rating" => FactKind.Rating, "catalog" => FactKind.Catalog, _ => FactKind.Retraction };
            var at = e.EventTime!.Value;
            var ingest = kind == FactKind.Rating && random.NextDouble() < 0.05 ? at.AddDays(1 + random.Next(60)) : at;
            return new Fact(e.Id!, kind, e.Member, e.Title, e.Value, at, ingest, e.Supersedes, e.Attributes);
        }).ToList();
    }

    /// <summary>The point-in-time join in DuckDB: per row, the <see cref="Compared"/> features' values.</summary>
    public static List<double[]> Join(IReadOnlyList<Fact> facts, IReadOnlyList<RowContext> rows, FeatureConfig config)
    {
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE facts (id VARCHAR, kind VARCHAR, member VARCHAR, title VARCHAR, value DOUBLE, event BIGINT, ingest BIGINT, supersedes VARCHAR); CREATE TABLE rows_ (rid INTEGER, member VARCHAR, title VARCHAR, c BIGINT);";
            create.ExecuteNonQuery();
        }

        using (var appender = connection.CreateAppender("facts"))
        {
            foreach (var f in facts)
            {
                var row = appender.CreateRow().AppendValue(f.Id).AppendValue(f.Kind == FactKind.Rating ? "rating" : f.Kind == FactKind.Catalog ? "catalog" : "retraction");
                row = f.Member is { } m ? row.AppendValue(m) : row.AppendNullValue();
                row = f.Title is { } t ? row.AppendValue(t) : row.AppendNullValue();
                row = f.Value is { } v ? row.AppendValue(v) : row.AppendNullValue();
                row = row.AppendValue(f.EventTime.UtcTicks).AppendValue(f.IngestTime.UtcTicks);
                row = f.Supersedes is { } s ? row.AppendValue(s) : row.AppendNullValue();
                row.EndRow();
            }
        }

        using (var appender = connection.CreateAppender("rows_"))
        {
            for (var r = 0; r < rows.Count; r++)
            {
                appender.CreateRow().AppendValue(r).AppendValue(rows[r].Member).AppendValue(rows[r].Title).AppendValue(rows[r].Time.UtcTicks).EndRow();
            }
        }

        using var command = connection.CreateCommand();
        command.CommandText = JoinSql;
        command.Parameters.Add(new DuckDBParameter("limit", (long)config.HistoryLimit));
        command.Parameters.Add(new DuckDBParameter("like", config.LikeThreshold));
        command.Parameters.Add(new DuckDBParameter("recent", config.RecentWindowDays * TimeSpan.TicksPerDay));
        command.Parameters.Add(new DuckDBParameter("popular", config.PopularityWindowDays * TimeSpan.TicksPerDay));
        command.Parameters.Add(new DuckDBParameter("prior", config.PriorCount));
        var values = new List<double[]>(rows.Count);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var row = new double[Compared.Length];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = reader.GetDouble(i + 1);
            }

            values.Add(row);
        }

        return values.Count == rows.Count ? values : throw new InvalidOperationException($"DuckDB returned {values.Count} rows for {rows.Count}");
    }
}
