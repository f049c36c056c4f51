using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;
using Serverless.Facts;
using Serverless.Requests;

namespace Serverless.Functions.Http;

/// <summary>Looks up an orchestration instance named in a route, as the HTTP API's status and decision endpoints need it.</summary>
public static class DurableInstances
{
    /// <summary>
    /// The instance with its inputs, outputs and custom status; a 400 refusal for an id that is not a
    /// valid key, a 404 when there is no instance of <paramref name="orchestration"/> with that id.
    /// </summary>
    public static async Task<OrchestrationMetadata> FindAsync(
        DurableTaskClient client, HttpRequest request, string id, string orchestration, string what)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(request);
        if (FactValidator.KeyError("id", id, FactValidator.MaxIdLength, true) is { } error)
        {
            throw RequestRefusedException.BadRequest(error);
        }

        var state = await client.GetInstanceAsync(id, getInputsAndOutputs: true, request.HttpContext.RequestAborted);
        return state is null || state.Name != orchestration
            ? throw RequestRefusedException.NotFound($"no {what} '{id}'")
            : state;
    }
}
