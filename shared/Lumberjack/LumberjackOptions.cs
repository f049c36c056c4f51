using System.ComponentModel.DataAnnotations;

namespace Serverless.Lumberjack;

/// <summary>Settings of feature logging (configuration section "Lumberjack").</summary>
public sealed class LumberjackOptions
{
    public const string Section = "Lumberjack";

    /// <summary>Share of members whose rank requests are logged (0..1), chosen per member so whole sessions are kept.</summary>
    [Range(0.0, 1.0)]
    public double SampleRate { get; set; } = 1.0;

    /// <summary>Requests waiting to be published; when full, new ones are dropped and counted, serving never waits.</summary>
    [Range(1, 1_000_000)]
    public int BufferCapacity { get; set; } = 10_000;

    /// <summary>
    /// How long the publisher lets logged requests gather before it wakes to send them: serving then
    /// never wakes a thread per request (measured: that wake-up was most of the logging overhead at
    /// p99). 0 sends each request as it comes.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:10")]
    public TimeSpan PublishInterval { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Attempts to publish one batch of logged requests (the first included) before what has not gone out is dropped and counted.</summary>
    [Range(1, 100)]
    public int PublishAttempts { get; set; } = 5;

    /// <summary>Pause before the first retry of a failed publish; it doubles with each further retry.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:01:00")]
    public TimeSpan PublishRetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Longest time one batch may spend in retries: a retry whose pause would end later is not
    /// made, and the batch's rest is dropped (meanwhile new requests queue in the buffer, and drop
    /// once it is full, so the bound keeps an outage from stalling logging indefinitely).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan PublishRetryTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long after a request a rating of the title counts as its label.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "3650.00:00:00")]
    public TimeSpan LabelHorizon { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long after the horizon closed late facts may still change a label.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "3650.00:00:00")]
    public TimeSpan LateWindow { get; set; } = TimeSpan.FromDays(7);
}
