using System.Reflection;
using Microsoft.Azure.Functions.Worker;
using Serverless.Functions.EventHubs;

namespace Serverless.LocalHost.Functions;

/// <summary>The trigger kinds the local host binds.</summary>
public enum TriggerKind { Http, EventHub, Orchestration, Activity, Timer }

/// <summary>One [Function] method found in the functions assembly.</summary>
public sealed record FunctionDescriptor(string Name, MethodInfo Method, TriggerKind Trigger, ParameterInfo TriggerParameter)
{
    public Attribute TriggerAttribute => TriggerParameter.GetCustomAttributes().First(a => a is HttpTriggerAttribute or EventHubTriggerAttribute or OrchestrationTriggerAttribute or ActivityTriggerAttribute or TimerTriggerAttribute);

    /// <summary>Invokes the method on a new instance from <paramref name="services"/> (or statically) and unwraps its task.</summary>
    public async Task<object?> InvokeAsync(IServiceProvider services, object?[] arguments)
    {
        var target = Method.IsStatic ? null : Microsoft.Extensions.DependencyInjection.ActivatorUtilities.CreateInstance(services, Method.DeclaringType!);
        object? returned;
        try
        {
            returned = Method.Invoke(target, arguments);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }

        switch (returned)
        {
            case Task task:
                await task;
                var type = task.GetType();
                return type.IsGenericType && type.GetProperty("Result") is { } result && result.PropertyType.Name != "VoidTaskResult"
                    ? result.GetValue(task)
                    : null;
            case ValueTask valueTask:
                await valueTask;
                return null;
            default:
                return returned;
        }
    }
}

/// <summary>Finds every [Function] method of an assembly by reflection, as the Functions host indexes them.</summary>
public static class FunctionCatalog
{
    public static IReadOnlyList<FunctionDescriptor> Discover(Assembly assembly)
    {
        var result = new List<FunctionDescriptor>();
        foreach (var type in assembly.GetTypes())
        {
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                if (method.GetCustomAttribute<FunctionAttribute>() is not { } function)
                {
                    continue;
                }

                result.Add(Describe(function.Name, method));
            }
        }

        var duplicate = result.GroupBy(f => f.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException($"function name '{duplicate.Key}' is used twice");
        }

        return result;
    }

    private static FunctionDescriptor Describe(string name, MethodInfo method)
    {
        foreach (var parameter in method.GetParameters())
        {
            foreach (var attribute in parameter.GetCustomAttributes())
            {
                TriggerKind? kind = attribute switch
                {
                    HttpTriggerAttribute => TriggerKind.Http,
                    EventHubTriggerAttribute => TriggerKind.EventHub,
                    OrchestrationTriggerAttribute => TriggerKind.Orchestration,
                    ActivityTriggerAttribute => TriggerKind.Activity,
                    TimerTriggerAttribute => TriggerKind.Timer,
                    _ => null,
                };
                if (kind is { } k)
                {
                    return new FunctionDescriptor(name, method, k, parameter);
                }

                if (attribute.GetType().Name.EndsWith("TriggerAttribute", StringComparison.Ordinal))
                {
                    throw new NotSupportedException($"function '{name}' uses {attribute.GetType().Name}, which the local host does not bind yet");
                }
            }
        }

        throw new NotSupportedException($"function '{name}' has no trigger parameter the local host knows");
    }
}
