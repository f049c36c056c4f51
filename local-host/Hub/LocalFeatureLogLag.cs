using Serverless.Events;
using Serverless.Lumberjack;

namespace Serverless.LocalHost.Hub;

/// <summary>The feature-log consumer's lag as the in-process hub sees it (hub <see cref="Hubs.FeatureLog"/>, group <see cref="Hubs.FeatureLogConsumerGroup"/>).</summary>
public sealed class LocalFeatureLogLag(LocalEventHub hub) : IFeatureLogLag
{
    public string Source => "local hub";

    public FeatureLogLag? Measure() =>
        hub.Stats().FirstOrDefault(s => s.Hub == Hubs.FeatureLog && s.ConsumerGroup == Hubs.FeatureLogConsumerGroup) is { } stats
            ? new FeatureLogLag(stats.LagEvents, stats.OldestUnacknowledgedAge)
            : null;
}
