namespace Serverless.Events;

/// <summary>Event hub names and the consumer group each trigger reads with. Bicep creates the same names.</summary>
public static class Hubs
{
    public const string Facts = "facts";
    public const string FactsConsumerGroup = "archive";
    public const string FeatureLog = "feature-log";
    public const string FeatureLogConsumerGroup = "lumberjack";
}
