using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.DurableTask.Client;
using Serverless.Facts;

namespace Serverless.Functions.Http;

/// <summary>Looks up an orchestration instance named in a route, as the HTTP API's status and decision endpoints need it.</summary>
public static class DurableInstances
{
    /// <summary>
    /// The instance with its inputs, outputs and custom status; a 400 for an id that is not a valid
    /// key, a 404 when there is no instance of <paramref name="orchestration"/> with that id.
    /// </summary>
    public static async Task<(OrchestrationMetadata? Instance, IActionResult? Problem)> FindAsync(
        DurableTaskClient client, HttpRequest request, string id, string orchestration, string what)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(request);
        if (FactValidator.KeyError("id", id, FactValidator.MaxIdLength, true) is { } error)
        {
            return (null, Problems.BadRequest(error, request));
        }

        var state = await client.GetInstanceAsync(id, getInputsAndOutputs: true, request.HttpContext.RequestAborted);
        return state is null || state.Name != orchestration
            ? (null, Problems.NotFound($"no {what} '{id}'", request))
            : (state, null);
    }
}
