using System.Globalization;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Models;
using Serverless.Ranking;

namespace Serverless.Sentinel;

/// <summary>A member's facts as the encoder read them (the raw input of a golden probe), and the time it read them at.</summary>
public sealed record ProbeContext(string Member, DateTimeOffset AsOf, IReadOnlyList<Fact> Facts);

/// <summary>One golden probe: a context and a candidate title, with the vector and score made at training.</summary>
public sealed record GoldenProbe(int Context, string Title, float[] Features, float Score);

/// <summary>
/// Golden probes: raw contexts with the feature vectors and scores the training code produced. The
/// config hash covers the feature config, not the encoder's code; these catch the code. The catalog
/// and title statistics come from the snapshot the model depends on (its dependent data).
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

    /// <summary>
    /// Chooses <paramref name="members"/> members with a short history (ordinal order, deterministic),
    /// reads each at the snapshot's watermark with the serving data, and records the vectors and
    /// scores of the <paramref name="titles"/> most popular titles.
    /// </summary>
    public static GoldenProbeSet Build(IReadOnlyList<Fact> snapshotFacts, ServingData data, FeatureEncoder encoder, ModelScorer scorer, int members = 10, int titles = 20)
    {
        ArgumentNullException.ThrowIfNull(snapshotFacts);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(scorer);
        var chosen = snapshotFacts.Where(f => f.Member is not null)
            .GroupBy(f => f.Member!, StringComparer.Ordinal)
            .Where(g => g.Count() is >= 3 and <= 100)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Take(members)
            .Select(g => new ProbeContext(g.Key, data.Watermark, g.OrderBy(f => f.Id, StringComparer.Ordinal).ToList()))
            .ToList();
        var candidates = data.Popular.Take(titles).ToList();
        var probes = new List<GoldenProbe>();
        for (var c = 0; c < chosen.Count; c++)
        {
            var vectors = Encode(chosen[c], candidates, data, encoder);
            var scores = new float[vectors.Count];
            scorer.ScoreBatch(vectors, scores);
            probes.AddRange(candidates.Select((t, i) => new GoldenProbe(c, t, vectors[i], scores[i])));
        }

        return new GoldenProbeSet(data.Snapshot, chosen, probes);
    }

    /// <summary>Recomputes every probe with this code (and this model, when given) and compares bit for bit.</summary>
    public static ProbeComparison Compare(GoldenProbeSet set, ServingData data, FeatureEncoder encoder, ModelScorer? scorer)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(encoder);
        var moved = new SortedSet<string>(StringComparer.Ordinal);
        int vectorMismatches = 0, scoreMismatches = 0;
        string? first = null;
        foreach (var group in set.Probes.GroupBy(p => p.Context))
        {
            var context = set.Contexts[group.Key];
            var probes = group.ToList();
            var vectors = Encode(context, probes.Select(p => p.Title).ToList(), data, encoder);
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
                            $"member {context.Member}, title {probes[i].Title}: {name} was {(f < expected.Length ? expected[f] : float.NaN)}, now {(f < actual.Length ? actual[f] : float.NaN)}");
                    }
                }

                vectorMismatches += differs ? 1 : 0;
                if (scorer is not null && !differs && !(Math.Abs(scores[i] - probes[i].Score) <= ScoreTolerance))
                {
                    scoreMismatches++;
                    first ??= string.Create(CultureInfo.InvariantCulture, $"member {context.Member}, title {probes[i].Title}: score was {probes[i].Score}, now {scores[i]}");
                }
            }
        }

        return new ProbeComparison(set.Probes.Count, vectorMismatches, scoreMismatches, moved.ToList(), first);
    }

    /// <summary>The feature-code check: refuses on any difference, naming the features that moved.</summary>
    public static SentinelCheck Check(ModelManifest manifest, ServingData? data, FeatureEncoder encoder, ModelScorer? scorer)
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

        ProbeComparison result;
        try
        {
            result = Compare(set, data, encoder, scorer);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IndexOutOfRangeException)
        {
            return new SentinelCheck(SentinelChecks.FeatureCodeSync, $"recomputing failed: {ex.Message}", threshold, false);
        }

        var measured = result.InSync
            ? $"{result.Probes} probes identical"
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
