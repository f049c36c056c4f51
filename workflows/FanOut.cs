using Microsoft.DurableTask;

namespace Serverless.Workflows;

/// <summary>
/// What the fan-out orchestrators share: the retry policy of their activities and a bounded fan-out.
/// Deterministic: activities are scheduled in input order, and which one finishes first comes from
/// the orchestration's history on replay.
/// </summary>
public static class FanOut
{
    /// <summary>Each activity of a fan-out: 3 attempts, 1 s then 2 s apart (at most 30 s).</summary>
    public static readonly TaskOptions Retry = TaskOptions.FromRetryPolicy(new RetryPolicy(
        maxNumberOfAttempts: 3, firstRetryInterval: TimeSpan.FromSeconds(1), backoffCoefficient: 2, maxRetryInterval: TimeSpan.FromSeconds(30)));

    /// <summary>
    /// Calls <paramref name="activity"/> once per input with <see cref="Retry"/>, at most
    /// <paramref name="maxParallel"/> at once; returns the results in the order they finished, and
    /// tells <paramref name="finished"/> after each (the results so far). A failure (after its retries)
    /// ends the fan-out with the activity's <see cref="TaskFailedException"/>.
    /// </summary>
    public static async Task<List<TResult>> RunAsync<TInput, TResult>(
        TaskOrchestrationContext context, string activity, IEnumerable<TInput> inputs, int maxParallel, Action<IReadOnlyList<TResult>>? finished = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxParallel, 1);
        var running = new List<Task<TResult>>();
        var done = new List<TResult>();
        foreach (var input in inputs)
        {
            if (running.Count >= maxParallel)
            {
                await CollectOneAsync();
            }

            running.Add(context.CallActivityAsync<TResult>(activity, input, Retry));
        }

        while (running.Count > 0)
        {
            await CollectOneAsync();
        }

        return done;

        async Task CollectOneAsync()
        {
            var first = await Task.WhenAny(running);
            running.Remove(first);
            done.Add(await first);
            finished?.Invoke(done);
        }
    }
}
