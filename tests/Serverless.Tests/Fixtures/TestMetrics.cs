using System.Diagnostics.Metrics;
using Serverless.Hosting;

namespace Serverless.Tests.Fixtures;

/// <summary>Platform metrics for a component a test builds by hand: a meter of its own, which nobody hears unless the test listens to it.</summary>
public static class TestMetrics
{
    public static PlatformMetrics Unheard() => new(new OwnMeters());

    private sealed class OwnMeters : IMeterFactory
    {
        public Meter Create(MeterOptions options) => new(options);

        public void Dispose()
        {
        }
    }
}
