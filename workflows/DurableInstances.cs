using Microsoft.DurableTask.Client;
using Serverless.Facts;
using Serverless.Requests;

namespace Serverless.Workflows;

/// <summary>Looks up an orchestration instance named by a caller, as the status and decision endpoints need it.</summary>
public static class DurableInstances
{
    /// <summary>
    /// The instance with its inputs, outputs and custom status; a 400 refusal for an id that is not a
    /// valid key, a 404 when there is no instance of <paramref name="orchestration"/> with that id.
    /// </summary>
    public static async Task<OrchestrationMetadata> FindAsync(
        DurableTaskClient client, string id, string orchestration, string what, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (FactValidator.KeyError("id", id, FactValidator.MaxIdLength, true) is { } error)
        {
            throw RequestRefusedException.BadRequest(error);
        }

        var state = await client.GetInstanceAsync(id, getInputsAndOutputs: true, cancellationToken);
        return state is null || state.Name != orchestration
            ? throw RequestRefusedException.NotFound($"no {what} '{id}'")
            : state;
    }

    /// <summary>The output of a completed instance, or null while it runs (or when it failed).</summary>
    public static T? CompletedOutput<T>(this OrchestrationMetadata state)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(state);
        return state.RuntimeStatus == OrchestrationRuntimeStatus.Completed && state.SerializedOutput is not null ? state.ReadOutputAs<T>() : null;
    }
}
