using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Events;

namespace Serverless.LocalHost.Functions;

/// <summary>What one invocation offers to bind: the trigger value and its metadata.</summary>
public sealed record InvocationValues(
    IServiceProvider Services,
    CancellationToken CancellationToken,
    HttpContext? Http = null,
    IReadOnlyList<IncomingEvent>? Events = null,
    TaskOrchestrationContext? Orchestration = null,
    object? ActivityInput = null,
    TimerInfo? Timer = null);

/// <summary>
/// Binds a function's parameters the way the isolated worker does for the trigger kinds this app
/// uses. An unknown parameter fails at start-up, not at the first request.
/// </summary>
public static class ParameterBinder
{
    public static Func<InvocationValues, object?[]> Compile(FunctionDescriptor function)
    {
        var binders = function.Method.GetParameters().Select(p => Binder(function, p)).ToArray();
        return values => binders.Select(b => b(values)).ToArray();
    }

    private static Func<InvocationValues, object?> Binder(FunctionDescriptor function, ParameterInfo p)
    {
        var type = p.ParameterType;
        if (p.Position == function.TriggerParameter.Position)
        {
            return function.Trigger switch
            {
                TriggerKind.Http when type == typeof(HttpRequest) => v => v.Http!.Request,
                TriggerKind.EventHub when type == typeof(byte[][]) => v => v.Events!.Select(e => e.Body.ToArray()).ToArray(),
                TriggerKind.EventHub when type == typeof(string[]) => v => v.Events!.Select(e => System.Text.Encoding.UTF8.GetString(e.Body.Span)).ToArray(),
                TriggerKind.Orchestration when type == typeof(TaskOrchestrationContext) => v => v.Orchestration,
                TriggerKind.Activity => v => v.ActivityInput,
                TriggerKind.Timer when type == typeof(TimerInfo) => v => v.Timer,
                _ => throw Unsupported(function, p),
            };
        }

        if (type == typeof(CancellationToken))
        {
            return v => v.CancellationToken;
        }

        if (type == typeof(FunctionContext))
        {
            return v => new LocalFunctionContext(function.Name, v.Services, v.CancellationToken);
        }

        if (type == typeof(DurableTaskClient) && p.GetCustomAttribute<DurableClientAttribute>() is not null)
        {
            return v => v.Services.GetRequiredService<DurableTaskClient>();
        }

        if (function.Trigger == TriggerKind.EventHub)
        {
            if (type == typeof(DateTime[]) && p.Name == "enqueuedTimeUtcArray")
            {
                return v => v.Events!.Select(e => e.EnqueuedTime.UtcDateTime).ToArray();
            }

            if (type == typeof(long[]) && p.Name == "sequenceNumberArray")
            {
                return v => v.Events!.Select(e => e.SequenceNumber).ToArray();
            }
        }

        if (function.Trigger == TriggerKind.Http && type == typeof(string))
        {
            return v => v.Http!.Request.RouteValues.TryGetValue(p.Name!, out var value) ? value?.ToString() : null;
        }

        throw Unsupported(function, p);
    }

    private static NotSupportedException Unsupported(FunctionDescriptor f, ParameterInfo p) =>
        new($"function '{f.Name}': parameter '{p.Name}' of type {p.ParameterType.Name} cannot be bound by the local host");
}
