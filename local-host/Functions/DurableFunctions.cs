using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;

namespace Serverless.LocalHost.Functions;

/// <summary>
/// Registers orchestrator and activity functions with the in-memory Durable Task backend under
/// their function names, so `CallActivityAsync(TaskNames.X)` reaches the same [Function] method it
/// reaches in Azure.
/// </summary>
public static class DurableFunctions
{
    public static void Register(DurableTaskRegistry registry, IEnumerable<FunctionDescriptor> functions, Func<IServiceProvider> rootServices)
    {
        foreach (var function in functions)
        {
            var bind = ParameterBinder.Compile(function);
            switch (function.Trigger)
            {
                case TriggerKind.Orchestration:
                    var orchestrator = new FunctionOrchestrator(function, bind, rootServices, OrchestratorInputType(function.Name));
                    registry.AddOrchestrator(function.Name, () => orchestrator);
                    break;
                case TriggerKind.Activity:
                    registry.AddActivity(function.Name, services => new FunctionActivity(function, bind, services));
                    break;
            }
        }
    }

    /// <summary>
    /// The input type an orchestrator function reads with GetInput&lt;T&gt;: the TInput of the workflows
    /// TaskOrchestrator class of the same name (function names are nameof(class), see TaskNames).
    /// Azure deserializes lazily; the in-memory backend deserializes up front, so it needs the type.
    /// </summary>
    public static Type OrchestratorInputType(string name)
    {
        var type = typeof(Serverless.Workflows.TaskNames).Assembly.GetTypes().SingleOrDefault(t => t.Name == name);
        for (var t = type; t is not null; t = t.BaseType)
        {
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(TaskOrchestrator<,>))
            {
                return t.GetGenericArguments()[0];
            }
        }

        return typeof(object);
    }

    private sealed class FunctionOrchestrator(FunctionDescriptor function, Func<InvocationValues, object?[]> bind, Func<IServiceProvider> rootServices, Type inputType) : ITaskOrchestrator
    {
        public Type InputType => inputType;

        public Type OutputType => typeof(object);

        public Task<object?> RunAsync(TaskOrchestrationContext context, object? input)
        {
            var services = rootServices();
            return function.InvokeAsync(services, bind(new InvocationValues(services, CancellationToken.None, Orchestration: context)));
        }
    }

    private sealed class FunctionActivity(FunctionDescriptor function, Func<InvocationValues, object?[]> bind, IServiceProvider services) : ITaskActivity
    {
        public Type InputType => function.TriggerParameter.ParameterType;

        public Type OutputType
        {
            get
            {
                var t = function.Method.ReturnType;
                return t.IsGenericType && (t.GetGenericTypeDefinition() == typeof(Task<>) || t.GetGenericTypeDefinition() == typeof(ValueTask<>))
                    ? t.GetGenericArguments()[0]
                    : t == typeof(Task) || t == typeof(void) ? typeof(object) : t;
            }
        }

        public async Task<object?> RunAsync(TaskActivityContext context, object? input)
        {
            await using var scope = services.CreateAsyncScope();
            return await function.InvokeAsync(scope.ServiceProvider, bind(new InvocationValues(scope.ServiceProvider, CancellationToken.None, ActivityInput: input)));
        }
    }
}
