using System.Diagnostics.Metrics;

namespace Serverless.Tests.Fixtures;

/// <summary>
/// Hears one meter instance as an exporter would (a MeterListener), and only that instance: other
/// hosts and tests create meters of the same name, which are not heard.
/// </summary>
public sealed class MeterRecording : IDisposable
{
    private readonly MeterListener listener = new();
    private readonly List<(string Instrument, long Value, KeyValuePair<string, object?>[] Tags)> measurements = [];

    public MeterRecording(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            lock (measurements)
            {
                measurements.Add((instrument.Name, value, tags.ToArray()));
            }
        });
        listener.Start();
    }

    /// <summary>The sum of what <paramref name="instrument"/> recorded with every one of <paramref name="tags"/>.</summary>
    public long Sum(string instrument, params (string Key, string Value)[] tags)
    {
        lock (measurements)
        {
            return measurements.Where(m => m.Instrument == instrument && tags.All(t => m.Tags.Any(k => k.Key == t.Key && Equals(k.Value, t.Value)))).Sum(m => m.Value);
        }
    }

    public void Dispose() => listener.Dispose();
}
