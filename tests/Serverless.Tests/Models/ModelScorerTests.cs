using Serverless.Models;

namespace Serverless.Tests.Models;

public sealed class ModelScorerTests
{
    [Theory]
    [InlineData(TrainerKind.LightGbm)]
    [InlineData(TrainerKind.LogisticRegression)]
    public void ScoreBatch_equals_per_row_Score(TrainerKind kind)
    {
        using var scorer = new ModelScorer(SharedModels.Get(kind));
        var rows = SyntheticData.Probe(100, 21);
        var batch = new float[rows.Count];
        scorer.ScoreBatch(rows, batch);
        for (var i = 0; i < rows.Count; i++)
        {
            Assert.Equal(scorer.Score(rows[i]), batch[i]);
        }
    }

    [Fact]
    public void Flat_ScoreBatch_equals_per_row_Score_and_checks_the_layout()
    {
        using var scorer = new ModelScorer(SharedModels.Get(TrainerKind.LightGbm));
        var rows = SyntheticData.Probe(40, 23);
        var flat = rows.SelectMany(r => r).ToArray();
        var batch = new float[rows.Count];
        scorer.ScoreBatch(flat, batch);
        Assert.Equal(rows.Select(r => scorer.Score(r)), batch);

        var error = Assert.Throws<ArgumentException>(() => scorer.ScoreBatch(flat.AsSpan(1), batch));
        Assert.Contains($"rows of {scorer.FeatureCount} features", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Concurrent_scoring_gives_the_sequential_results()
    {
        using var scorer = new ModelScorer(SharedModels.Get(TrainerKind.LightGbm));
        var rows = SyntheticData.Probe(100, 22);
        var expected = rows.Select(r => scorer.Score(r)).ToArray();
        var mismatches = 0;

        Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 16 }, i =>
        {
            var scores = new float[rows.Count];
            if (i % 2 == 0)
            {
                scorer.ScoreBatch(rows, scores);
            }
            else
            {
                // Rotate so threads score different rows at the same moment.
                for (var j = 0; j < rows.Count; j++)
                {
                    var k = (j + i) % rows.Count;
                    scores[k] = scorer.Score(rows[k]);
                }
            }

            if (!scores.AsSpan().SequenceEqual(expected))
            {
                Interlocked.Increment(ref mismatches);
            }
        });

        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void Rows_of_the_wrong_width_are_rejected()
    {
        using var scorer = new ModelScorer(SharedModels.Get(TrainerKind.LogisticRegression));
        Assert.Throws<ArgumentException>(() => scorer.Score(new float[7]));
        var scores = new float[2];
        Assert.Throws<ArgumentException>(() => scorer.ScoreBatch([new float[8], new float[9]], scores));
        Assert.Throws<ArgumentException>(() => scorer.ScoreBatch([new float[8]], scores));
    }
}
