using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Models;
using Serverless.Ranking;

namespace Serverless.Sentinel;

/// <summary>
/// A member's facts as the encoder read them (the raw input of a golden probe), and the time it read
/// them at: only facts the system knew at <see cref="AsOf"/>, nothing after. The catalog and title
/// statistics it read are the snapshot's as of <see cref="DataAsOf"/> (null: the snapshot's watermark,
/// as probes made before this was recorded read them): the time itself for a context within the
/// snapshot, the watermark for one served later.
/// </summary>
public sealed record ProbeContext(
    string Member,
    DateTimeOffset AsOf,
    [property: JsonConverter(typeof(ProbeFactsJsonConverter))] IReadOnlyList<Fact> Facts,
    DateTimeOffset? DataAsOf = null);

/// <summary>One golden probe: a context and a candidate title, with the vector and score made at training.</summary>
public sealed record GoldenProbe(int Context, string Title, float[] Features, float Score);

/// <summary>
/// Golden probes: raw contexts with the feature vectors and scores the training code produced. The
/// config hash covers the feature config, not the encoder's code; these catch the code. The catalog
/// and title statistics come from the snapshot the model depends on (its dependent data). Stored in
/// the manifest compressed (<see cref="GoldenProbeSetJsonConverter"/>).
/// </summary>
public sealed record GoldenProbeSet(string Snapshot, IReadOnlyList<ProbeContext> Contexts, IReadOnlyList<GoldenProbe> Probes);

/// <summary>What recomputing the golden probes found.</summary>
public sealed record ProbeComparison(int Probes, int VectorMismatches, int ScoreMismatches, IReadOnlyList<string> MovedFeatures, string? FirstDifference)
{
    public bool InSync => Probes > 0 && VectorMismatches == 0 && ScoreMismatches == 0;
}

public static class GoldenProbes
{
    /// <summary>Scores may differ by float rounding across machines, never by more.</summary>
    public const float ScoreTolerance = 1e-5f;

    /// <summary>Contexts a training run records (fewer when the snapshot has too few members to fill the strata).</summary>
    public const int DefaultContexts = 300;

    /// <summary>The seed of the (deterministic) choice of members and titles.</summary>
    public const int DefaultSeed = 17;

    /// <summary>Candidate titles scored per context.</summary>
    public const int TitlesPerContext = 6;

    /// <summary>A title no catalog or statistics know (the encoder's defaults for an unknown title).</summary>
    public const string UnknownTitle = "golden-probe-unknown-title";

    /// <summary>Cold-start members the snapshot has never seen are named with this prefix.</summary>
    public const string NewMemberPrefix = "golden-probe-new-member-";

    /// <summary>Newest ratings kept beyond the history limit in a heavy context (so the limit itself is exercised).</summary>
    public const int BeyondHistoryLimit = 10;

    /// <summary>How long after the snapshot's watermark the "served later" contexts are read (data as of the watermark, as serving reads).</summary>
    public static readonly TimeSpan ServedLater = TimeSpan.FromDays(30);

    /// <summary>
    /// History strata by ratings known at the context's time, with their share of the contexts: none
    /// (cold start), light (1-20), medium (21-100), heavy (up to the history limit) and beyond the limit.
    /// </summary>
    private static (int Min, int Max, double Share)[] Strata(int historyLimit) =>
    [
        (0, 0, 0.08),
        (1, 20, 0.46),
        (21, Math.Min(100, historyLimit), 0.36),
        (101, historyLimit, 0.08),
        (historyLimit + 1, int.MaxValue, 0.02),
    ];

    /// <summary>
    /// Chooses about <paramref name="contexts"/> raw contexts, stratified and deterministic (seeded):
    /// members with no history (cold start), light, medium and heavy histories (beyond the history
    /// limit too), read at several times: two within the snapshot (at a third and two thirds of its
    /// ratings, with the catalog and statistics as of then), its watermark, and
    /// <see cref="ServedLater"/> after it (the watermark's data, as serving reads). A context holds only
    /// the facts known at its time. Each is scored against <see cref="TitlesPerContext"/> titles:
    /// popular and long-tail ones, one the member rated, one in the catalog but without ratings, and one
    /// unknown to both (or known to the statistics only). Records the vectors and scores this code makes.
    /// </summary>
    public static GoldenProbeSet Build(IReadOnlyList<Fact> snapshotFacts, ServingData data, FeatureEncoder encoder, ModelScorer scorer, int contexts = DefaultContexts, int seed = DefaultSeed)
    {
        ArgumentNullException.ThrowIfNull(snapshotFacts);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentOutOfRangeException.ThrowIfNegative(contexts);
        var watermark = data.Watermark;
        var times = AsOfTimes(snapshotFacts, watermark);
        var dataAt = new Dictionary<DateTimeOffset, ServingData> { [watermark] = data };
        foreach (var (_, dataAsOf) in times.Where(t => !dataAt.ContainsKey(t.DataAsOf)))
        {
            dataAt[dataAsOf] = ServingData.Build(snapshotFacts, dataAsOf, encoder.Config, data.Snapshot);
        }

        var histories = snapshotFacts.Where(f => f.Member is not null)
            .GroupBy(f => f.Member!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var chosen = Choose(histories, times, contexts, seed, encoder.Config.HistoryLimit);
        var catalogTitles = snapshotFacts.Where(f => f.Kind == FactKind.Catalog && f.Title is not null).Select(f => f.Title!).Distinct(StringComparer.Ordinal).ToList();
        var pools = dataAt.ToDictionary(kv => kv.Key, kv => TitlePools.Of(kv.Value, catalogTitles, seed));

        var probes = new List<GoldenProbe>();
        var perTime = new Dictionary<DateTimeOffset, int>();
        for (var c = 0; c < chosen.Count; c++)
        {
            var context = chosen[c];
            var dataAsOf = context.DataAsOf ?? watermark;
            var j = perTime[dataAsOf] = perTime.GetValueOrDefault(dataAsOf) + 1;
            var titles = pools[dataAsOf].For(context, j, seed);
            var vectors = Encode(context, titles, dataAt[dataAsOf], encoder);
            var scores = new float[vectors.Count];
            scorer.ScoreBatch(vectors, scores);
            probes.AddRange(titles.Select((t, i) => new GoldenProbe(c, t, vectors[i], scores[i])));
        }

        return new GoldenProbeSet(data.Snapshot, chosen, probes);
    }

    /// <summary>(as of, data as of): a third and two thirds into the snapshot's ratings, its watermark, and served later.</summary>
    private static List<(DateTimeOffset AsOf, DateTimeOffset DataAsOf)> AsOfTimes(IReadOnlyList<Fact> facts, DateTimeOffset watermark)
    {
        var known = facts.Where(f => f.Kind == FactKind.Rating && KnownAt.IsKnown(f, watermark))
            .Select(f => f.EventTime > f.IngestTime ? f.EventTime : f.IngestTime).Order().ToList();
        var times = new List<(DateTimeOffset, DateTimeOffset)>();
        foreach (var share in new[] { 1.0 / 3, 2.0 / 3 })
        {
            if (known.Count > 0 && known[(int)(share * (known.Count - 1))] is var t && t < watermark && !times.Any(x => x.Item1 == t))
            {
                times.Add((t, t));
            }
        }

        times.Add((watermark, watermark));
        times.Add((watermark + ServedLater, watermark));
        return times;
    }

    /// <summary>The facts of a member known at <paramref name="asOf"/> (nothing the system learned later), newest first.</summary>
    private static List<Fact> KnownFacts(List<Fact> history, DateTimeOffset asOf) =>
        history.Where(f => KnownAt.IsKnown(f, asOf) || KnownAt.Supersedes(f, asOf, out _)).Order(Comparer<Fact>.Create(KnownAt.NewestFirst)).ToList();

    /// <summary>The contexts: per stratum its share, spread over the times in turn, members in seeded order; short strata leave their share to the next.</summary>
    private static List<ProbeContext> Choose(Dictionary<string, List<Fact>> histories, List<(DateTimeOffset AsOf, DateTimeOffset DataAsOf)> times, int contexts, int seed, int historyLimit)
    {
        // Every (member, time) once, in its stratum by the ratings known then.
        var strata = Strata(historyLimit);
        var cells = strata.Select(_ => times.Select(_ => new List<(ulong Order, string Member)>()).ToArray()).ToArray();
        foreach (var (member, history) in histories)
        {
            for (var t = 0; t < times.Count; t++)
            {
                var asOf = times[t].AsOf;
                var ratings = history.Count(f => f.Kind == FactKind.Rating && KnownAt.IsKnown(f, asOf));
                var s = Array.FindIndex(strata, x => ratings >= x.Min && ratings <= x.Max);
                cells[s][t].Add((Order(seed, member + "@" + asOf.UtcTicks.ToString(CultureInfo.InvariantCulture)), member));
            }
        }

        foreach (var cell in cells.SelectMany(c => c))
        {
            cell.Sort((a, b) => a.Order != b.Order ? a.Order.CompareTo(b.Order) : string.CompareOrdinal(a.Member, b.Member));
        }

        var picked = new List<(int Stratum, int Time, string Member, bool Known)>();
        var next = cells.Select(c => new int[c.Length]).ToArray();
        var newMembers = 0;

        // Round-robin over the times, so every time gets its part of a stratum; a cold stratum with too
        // few members without history is filled with members the snapshot has never seen.
        int Take(int s, int quota)
        {
            var taken = 0;
            for (var progress = true; taken < quota && progress;)
            {
                progress = false;
                for (var t = 0; t < times.Count && taken < quota; t++)
                {
                    if (next[s][t] < cells[s][t].Count)
                    {
                        picked.Add((s, t, cells[s][t][next[s][t]++].Member, true));
                    }
                    else if (strata[s].Max == 0 && newMembers < quota)
                    {
                        picked.Add((s, t, NewMemberPrefix + newMembers++.ToString(CultureInfo.InvariantCulture), false));
                    }
                    else
                    {
                        continue;
                    }

                    taken++;
                    progress = true;
                }
            }

            return taken;
        }

        var carry = 0;
        for (var s = 0; s < strata.Length; s++)
        {
            var quota = s == strata.Length - 1 ? contexts - picked.Count : (int)Math.Round(strata[s].Share * contexts) + carry;
            carry = Math.Max(0, quota - Take(s, Math.Min(quota, contexts - picked.Count)));
        }

        // A stratum too short for its share (a small snapshot has few heavy histories) leaves it to the others.
        for (var s = strata.Length - 2; s > 0 && picked.Count < contexts; s--)
        {
            Take(s, contexts - picked.Count);
        }

        return picked.OrderBy(p => p.Time).ThenBy(p => p.Stratum).Select(p =>
        {
            var (asOf, dataAsOf) = times[p.Time];
            var facts = p.Known ? KnownFacts(histories[p.Member], asOf) : [];
            var ratings = 0;
            var kept = facts.TakeWhile(f => f.Kind != FactKind.Rating || ++ratings <= historyLimit + BeyondHistoryLimit).ToList();
            return new ProbeContext(p.Member, asOf, kept, dataAsOf);
        }).ToList();
    }

    /// <summary>A stable pseudo-random order: the first 8 bytes of SHA-256 over the seed and the key.</summary>
    private static ulong Order(int seed, string key) =>
        BinaryPrimitives.ReadUInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes(seed.ToString(CultureInfo.InvariantCulture) + ":" + key)));

    /// <summary>The titles probes are drawn from, as the catalog and statistics of one time know them.</summary>
    private sealed record TitlePools(IReadOnlyList<string> Popular, IReadOnlyList<string> Rated, IReadOnlyList<string> CatalogOnly, IReadOnlyList<string> StatsOnly)
    {
        public static TitlePools Of(ServingData data, IReadOnlyList<string> catalogTitles, int seed)
        {
            List<string> Shuffled(IEnumerable<string> titles) =>
                titles.Select(t => (Key: Order(seed, t), Title: t)).OrderBy(x => x.Key).ThenBy(x => x.Title, StringComparer.Ordinal).Select(x => x.Title).ToList();
            var rated = data.Stats.Titles.Keys.ToList();
            return new TitlePools(
                data.Popular.Take(50).ToList(),
                Shuffled(rated),
                Shuffled(catalogTitles.Where(t => data.Catalog.Find(t) is not null && data.Stats.Find(t) is null)),
                Shuffled(rated.Where(t => data.Catalog.Find(t) is null)));
        }

        /// <summary>The titles of the <paramref name="j"/>-th context of this time: distinct, at most <see cref="TitlesPerContext"/>.</summary>
        public List<string> For(ProbeContext context, int j, int seed)
        {
            static string? At(IReadOnlyList<string> list, int i) => list.Count == 0 ? null : list[i % list.Count];
            var own = context.Facts.Where(f => f.Kind == FactKind.Rating && f.Title is not null).Select(f => f.Title!).Distinct(StringComparer.Ordinal).ToList();
            var mine = own.Count == 0 ? null : own.MinBy(t => Order(seed, context.Member + "/" + t));
            string?[] titles =
            [
                At(Popular, j),
                At(Rated, 3 * j),
                mine ?? At(Rated, (3 * j) + 1),
                At(CatalogOnly, j) ?? At(Rated, (3 * j) + 2),
                j % 2 == 0 ? UnknownTitle : At(StatsOnly, j) ?? UnknownTitle,
                At(Popular, (7 * j) + 13),
            ];
            var result = titles.OfType<string>().Distinct(StringComparer.Ordinal).Take(TitlesPerContext).ToList();
            return result.Count > 0 ? result : [UnknownTitle];
        }
    }

    /// <summary>
    /// Recomputes every probe with this code (and this model, when given) and compares bit for bit.
    /// Contexts within the snapshot read its catalog and statistics as of their time, rebuilt here from
    /// <paramref name="snapshotFacts"/> (the facts <paramref name="data"/> was built from); without them,
    /// such a set cannot be recomputed (<see cref="InvalidOperationException"/>).
    /// </summary>
    public static ProbeComparison Compare(GoldenProbeSet set, ServingData data, FeatureEncoder encoder, ModelScorer? scorer, IReadOnlyList<Fact>? snapshotFacts = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(encoder);
        var dataAt = new Dictionary<DateTimeOffset, ServingData> { [data.Watermark] = data };
        ServingData DataAt(ProbeContext context)
        {
            var at = context.DataAsOf ?? data.Watermark;
            if (!dataAt.TryGetValue(at, out var found))
            {
                if (at > data.Watermark)
                {
                    throw new InvalidOperationException($"context of member {context.Member} reads data as of {at:O}, after the snapshot's watermark {data.Watermark:O}");
                }

                dataAt[at] = found = ServingData.Build(
                    snapshotFacts ?? throw new InvalidOperationException($"the probes read the catalog and title statistics as of {at:O}, within the snapshot: recomputing them needs the snapshot's facts"),
                    at, encoder.Config, data.Snapshot);
            }

            return found;
        }

        var moved = new SortedSet<string>(StringComparer.Ordinal);
        int vectorMismatches = 0, scoreMismatches = 0;
        string? first = null;
        foreach (var group in set.Probes.GroupBy(p => p.Context).OrderBy(g => set.Contexts[g.Key].DataAsOf ?? data.Watermark))
        {
            var context = set.Contexts[group.Key];
            var probes = group.ToList();
            var vectors = Encode(context, probes.Select(p => p.Title).ToList(), DataAt(context), encoder);
            var scores = new float[vectors.Count];
            scorer?.ScoreBatch(vectors, scores);
            for (var i = 0; i < probes.Count; i++)
            {
                var expected = probes[i].Features;
                var actual = vectors[i];
                var differs = false;
                for (var f = 0; f < Math.Max(expected.Length, actual.Length); f++)
                {
                    var same = f < expected.Length && f < actual.Length && BitConverter.SingleToInt32Bits(expected[f]) == BitConverter.SingleToInt32Bits(actual[f]);
                    if (!same)
                    {
                        differs = true;
                        var name = f < encoder.Names.Count ? encoder.Names[f] : $"#{f}";
                        moved.Add(name);
                        first ??= string.Create(CultureInfo.InvariantCulture,
                            $"member {context.Member} as of {context.AsOf:O}, title {probes[i].Title}: {name} was {(f < expected.Length ? expected[f] : float.NaN)}, now {(f < actual.Length ? actual[f] : float.NaN)}");
                    }
                }

                vectorMismatches += differs ? 1 : 0;
                if (scorer is not null && !differs && !(Math.Abs(scores[i] - probes[i].Score) <= ScoreTolerance))
                {
                    scoreMismatches++;
                    first ??= string.Create(CultureInfo.InvariantCulture, $"member {context.Member} as of {context.AsOf:O}, title {probes[i].Title}: score was {probes[i].Score}, now {scores[i]}");
                }
            }
        }

        return new ProbeComparison(set.Probes.Count, vectorMismatches, scoreMismatches, moved.ToList(), first);
    }

    /// <summary>
    /// The feature-code check: refuses on any difference, naming the features that moved.
    /// <paramref name="data"/> is the serving data of the model's snapshot and
    /// <paramref name="snapshotFacts"/> its facts (for the contexts within the snapshot).
    /// </summary>
    public static SentinelCheck Check(ModelManifest manifest, ServingData? data, FeatureEncoder encoder, ModelScorer? scorer, IReadOnlyList<Fact>? snapshotFacts = null)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(encoder);
        const string threshold = "every golden probe's vector bit-identical and score within 1e-5";
        if (manifest.GoldenProbes is not { Probes.Count: > 0 } set)
        {
            return SentinelCheck.Skip(SentinelChecks.FeatureCodeSync, threshold, "the manifest carries no golden probes (trained before probes were kept)");
        }

        if (data is null)
        {
            return new SentinelCheck(SentinelChecks.FeatureCodeSync, $"not run: snapshot '{set.Snapshot}' is not available", threshold, false)
            {
                Explanation = "the probes' catalog and title statistics come from the model's snapshot, which did not load",
            };
        }

        if (!string.Equals(set.Snapshot, data.Snapshot, StringComparison.Ordinal))
        {
            return new SentinelCheck(SentinelChecks.FeatureCodeSync, $"not run: the probes were made with snapshot '{set.Snapshot}', the data here is '{data.Snapshot}'", threshold, false)
            {
                Explanation = "golden probes are only comparable on the data they were made with",
            };
        }

        ProbeComparison result;
        try
        {
            result = Compare(set, data, encoder, scorer, snapshotFacts);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IndexOutOfRangeException)
        {
            return new SentinelCheck(SentinelChecks.FeatureCodeSync, $"recomputing failed: {ex.Message}", threshold, false);
        }

        var measured = result.InSync
            ? $"{result.Probes} probes over {set.Contexts.Count} contexts identical"
            : $"{result.VectorMismatches} vectors and {result.ScoreMismatches} scores of {result.Probes} differ"
              + (result.MovedFeatures.Count > 0 ? "; features moved: " + string.Join(", ", result.MovedFeatures) : "")
              + (result.FirstDifference is null ? "" : "; first: " + result.FirstDifference);
        return new SentinelCheck(SentinelChecks.FeatureCodeSync, measured, threshold, result.InSync)
        {
            Value = result.VectorMismatches + result.ScoreMismatches,
            Explanation = result.InSync ? "this encoder and model reproduce what training made" : "the feature code (or scoring platform) here differs from training's: skew",
        };
    }

    private static List<float[]> Encode(ProbeContext context, IReadOnlyList<string> titles, ServingData data, FeatureEncoder encoder)
    {
        var profile = encoder.Profile(new MemberHistory(context.Member, context.Facts), context.AsOf, data.Catalog, data.Stats);
        return titles.Select(t => encoder.Encode(profile, t)).ToList();
    }
}

/// <summary>
/// A golden probe set in a manifest: a few summary fields a person can read (snapshot, how many
/// contexts and probes) and the set itself as gzip-compressed JSON in base64 ("data"; decode with
/// <c>base64 -d | gunzip</c>): hundreds of raw histories and thousands of vectors are about ten times
/// smaller so. Reads the plain object of manifests written before too.
/// </summary>
public sealed class GoldenProbeSetJsonConverter : JsonConverter<GoldenProbeSet>
{
    public const string Format = "gzip+base64 json";

    /// <summary>The set's own JSON: web names, nulls left out, no indentation.</summary>
    private static readonly JsonSerializerOptions Plain = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public override GoldenProbeSet? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JsonException($"golden probes must be an object, not {root.ValueKind}");
        }

        if (!root.TryGetProperty("data", out var data))
        {
            return root.Deserialize<GoldenProbeSet>(Plain);
        }

        if (!root.TryGetProperty("format", out var format) || format.GetString() != Format)
        {
            throw new JsonException($"golden probes in an unknown format (expected \"{Format}\")");
        }

        try
        {
            using var zipped = new MemoryStream(data.GetBytesFromBase64());
            using var unzip = new GZipStream(zipped, CompressionMode.Decompress);
            using var json = new MemoryStream();
            unzip.CopyTo(json);
            return JsonSerializer.Deserialize<GoldenProbeSet>(json.GetBuffer().AsSpan(0, (int)json.Length), Plain) ?? throw new JsonException("golden probes: the compressed set is null");
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or InvalidDataException)
        {
            throw new JsonException("golden probes: the compressed set does not decode: " + ex.Message, ex);
        }
    }

    public override void Write(Utf8JsonWriter writer, GoldenProbeSet value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        using var zipped = new MemoryStream();
        using (var zip = new GZipStream(zipped, CompressionLevel.Optimal, leaveOpen: true))
        {
            JsonSerializer.Serialize(zip, value, Plain);
        }

        writer.WriteStartObject();
        writer.WriteString("format", Format);
        writer.WriteString("snapshot", value.Snapshot);
        writer.WriteNumber("contexts", value.Contexts.Count);
        writer.WriteNumber("probes", value.Probes.Count);
        writer.WriteBase64String("data", zipped.GetBuffer().AsSpan(0, (int)zipped.Length));
        writer.WriteEndObject();
    }
}

/// <summary>
/// A probe context's facts, one JSON array per fact: [id, kind, member, title, value, event time,
/// ingest time, supersedes, attributes], times as UTC ticks (exact to the 100 ns the as-of rule
/// compares), trailing nulls left out. Thousands of history facts parse several times faster so than
/// as objects with ISO times. Reads facts written as objects too (manifests written before).
/// </summary>
public sealed class ProbeFactsJsonConverter : JsonConverter<IReadOnlyList<Fact>>
{
    public override IReadOnlyList<Fact>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new JsonException("a probe context's facts must be an array");
        }

        var facts = new List<Fact>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.StartObject)
            {
                facts.Add(JsonSerializer.Deserialize<Fact>(ref reader, options) ?? throw new JsonException("a probe fact is null"));
                continue;
            }

            if (reader.TokenType != JsonTokenType.StartArray)
            {
                throw new JsonException($"a probe fact must be an array or an object, not {reader.TokenType}");
            }

            var id = Next(ref reader).GetString() ?? throw new JsonException("a probe fact has no id");
            var kind = Enum.TryParse<FactKind>(Next(ref reader).GetString(), out var k) && Enum.IsDefined(k) ? k : throw new JsonException($"probe fact {id}: unknown kind");
            var member = Next(ref reader).GetString();
            var title = Next(ref reader).GetString();
            double? value = Next(ref reader).TokenType == JsonTokenType.Null ? null : reader.GetDouble();
            var eventTime = new DateTimeOffset(Next(ref reader).GetInt64(), TimeSpan.Zero);
            var ingestTime = new DateTimeOffset(Next(ref reader).GetInt64(), TimeSpan.Zero);
            string? supersedes = null;
            Dictionary<string, string>? attributes = null;
            if (Next(ref reader).TokenType != JsonTokenType.EndArray)
            {
                supersedes = reader.GetString();
                if (Next(ref reader).TokenType != JsonTokenType.EndArray)
                {
                    attributes = JsonSerializer.Deserialize<Dictionary<string, string>>(ref reader, options);
                    if (Next(ref reader).TokenType != JsonTokenType.EndArray)
                    {
                        throw new JsonException($"probe fact {id}: more than 9 fields");
                    }
                }
            }

            facts.Add(new Fact(id, kind, member, title, value, eventTime, ingestTime, supersedes, attributes));
        }

        return facts;
    }

    public override void Write(Utf8JsonWriter writer, IReadOnlyList<Fact> value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        writer.WriteStartArray();
        foreach (var f in value)
        {
            writer.WriteStartArray();
            writer.WriteStringValue(f.Id);
            writer.WriteStringValue(f.Kind.ToString());
            WriteNullable(writer, f.Member);
            WriteNullable(writer, f.Title);
            if (f.Value is { } v) { writer.WriteNumberValue(v); } else { writer.WriteNullValue(); }
            writer.WriteNumberValue(f.EventTime.UtcTicks);
            writer.WriteNumberValue(f.IngestTime.UtcTicks);
            if (f.Supersedes is not null || f.Attributes is not null)
            {
                WriteNullable(writer, f.Supersedes);
                if (f.Attributes is not null)
                {
                    JsonSerializer.Serialize(writer, f.Attributes, options);
                }
            }

            writer.WriteEndArray();
        }

        writer.WriteEndArray();
    }

    private static ref Utf8JsonReader Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read())
        {
            throw new JsonException("a probe fact ends early");
        }

        return ref reader;
    }

    private static void WriteNullable(Utf8JsonWriter writer, string? value)
    {
        if (value is null) { writer.WriteNullValue(); } else { writer.WriteStringValue(value); }
    }
}
