namespace Serverless.Lumberjack;

/// <summary>
/// How far the feature-log consumer group (<see cref="Events.Hubs.FeatureLogConsumerGroup"/>) is
/// behind: events not yet acknowledged, and the age of the oldest of them (null when none is).
/// </summary>
public sealed record FeatureLogLag(long Events, TimeSpan? OldestAge);

/// <summary>
/// Measures the feature-log consumer's lag where the runtime can see it. The local host implements
/// it from its in-process hub; in Azure it is not registered (a Functions instance cannot see the
/// consumer group's checkpoints cheaply), and health says the lag is not measured there: use the
/// Event Hubs consumer-lag metrics.
/// </summary>
public interface IFeatureLogLag
{
    /// <summary>Where the figure comes from, as health reports it (e.g. "local hub").</summary>
    string Source { get; }

    /// <summary>The lag now, or null when it cannot be measured (e.g. no consumer has subscribed yet).</summary>
    FeatureLogLag? Measure();
}
