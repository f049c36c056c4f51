using Microsoft.DurableTask;
using Serverless.Models;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Tests.Fixtures;

/// <summary>
/// The pipeline's validation step with a verdict given by the test (the real checks are proven in
/// tests/Sentinel); records it in the real registry, as the real step does.
/// </summary>
public sealed class ScriptedValidator(ModelRegistry registry, bool passes) : TaskActivity<string, ValidationOutcome>
{
    public override async Task<ValidationOutcome> RunAsync(TaskActivityContext context, string input)
    {
        var summary = passes ? "passed 9 checks" : "shadow-accuracy: auc worse than live";
        await registry.RecordSentinelAsync(input, passes, summary);
        return new ValidationOutcome(input, passes, summary, passes ? [] : ["shadow-accuracy"], []);
    }
}
