using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serverless.Functions.EventHubs;
using Serverless.LocalHost.Hub;

namespace Serverless.LocalHost.Functions;

/// <summary>
/// Subscribes every Event Hub-triggered function to the in-process hub with its hub and consumer
/// group. Stopping is the hub's own (it is a hosted service that stops after every other one, so
/// it drains what the feature-log buffer publishes on its way out).
/// </summary>
public sealed class EventHubFunctionConsumers(HostedFunctions hosted, LocalEventHub hub, IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var function in hosted.Functions.Where(f => f.Trigger == TriggerKind.EventHub))
        {
            var trigger = (EventHubTriggerAttribute)function.TriggerAttribute;
            var bind = ParameterBinder.Compile(function);
            hub.Subscribe(trigger.EventHubName, trigger.ConsumerGroup ?? "$Default", async (batch, ct) =>
            {
                await using var scope = services.CreateAsyncScope();
                await function.InvokeAsync(scope.ServiceProvider, bind(new InvocationValues(scope.ServiceProvider, ct, Events: batch)));
            });
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>The functions this local host serves.</summary>
public sealed record HostedFunctions(IReadOnlyList<FunctionDescriptor> Functions);
