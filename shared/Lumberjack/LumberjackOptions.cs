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

    /// <summary>How long after a request a rating of the title counts as its label.</summary>
    public TimeSpan LabelHorizon { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long after the horizon closed late facts may still change a label.</summary>
    public TimeSpan LateWindow { get; set; } = TimeSpan.FromDays(7);
}
