using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;

namespace Serverless.Functions.Http;

/// <summary>The activity context handed to workflows' TaskActivity classes from a Functions activity trigger.</summary>
public sealed class FunctionActivityContext(TaskName name, string instanceId) : TaskActivityContext
{
    public override TaskName Name { get; } = name;

    public override string InstanceId { get; } = instanceId;
}

/// <summary>Builds workflows' activity classes from the function's service provider.</summary>
public static class ActivityServices
{
    public static T GetActivity<T>(this IServiceProvider services) where T : ITaskActivity =>
        ActivatorUtilities.CreateInstance<T>(services);
}
