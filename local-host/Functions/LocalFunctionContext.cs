using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Context.Features;

namespace Serverless.LocalHost.Functions;

/// <summary>
/// The FunctionContext the local host passes to functions: invocation id, services, items and
/// cancellation. Binding metadata the Functions host would add is not available here and says so.
/// </summary>
public sealed class LocalFunctionContext(string functionName, IServiceProvider services, CancellationToken cancellationToken) : FunctionContext
{
    public string FunctionName { get; } = functionName;

    public override string InvocationId { get; } = Guid.NewGuid().ToString("N");

    public override string FunctionId => FunctionName;

    public override IServiceProvider InstanceServices { get; set; } = services;

    public override IDictionary<object, object> Items { get; set; } = new Dictionary<object, object>();

    public override CancellationToken CancellationToken { get; } = cancellationToken;

    public override TraceContext TraceContext => throw Unavailable(nameof(TraceContext));

    public override BindingContext BindingContext => throw Unavailable(nameof(BindingContext));

    public override RetryContext RetryContext => throw Unavailable(nameof(RetryContext));

    public override FunctionDefinition FunctionDefinition => throw Unavailable(nameof(FunctionDefinition));

    public override IInvocationFeatures Features => throw Unavailable(nameof(Features));

    private NotSupportedException Unavailable(string what) =>
        new($"FunctionContext.{what} is not available in the local host (function '{FunctionName}'); bind what you need as a parameter instead");
}
