using System.Diagnostics;
using System.Globalization;

namespace Serverless.Benchmarks;

/// <summary>Latency samples and the report lines: every figure next to its baseline from the same run, as a ratio.</summary>
public sealed class Latencies(string name)
{
    private readonly List<double> samples = [];

    public string Name { get; } = name;

    public int Count => samples.Count;

    public async Task TimeAsync(Func<Task> action)
    {
        var start = Stopwatch.GetTimestamp();
        await action();
        lock (samples) { samples.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds); }
    }

    public double Percentile(double p)
    {
        var sorted = samples.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}

public static class Report
{
    public static void Header(string title)
    {
        Console.WriteLine();
        Console.WriteLine($"## {title}");
        Console.WriteLine();
        Console.WriteLine("| figure | measured | baseline (same run) | ratio | target |");
        Console.WriteLine("|---|---|---|---|---|");
    }

    public static void Row(string figure, double measured, string unit, string baselineName, double baseline, string target) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {figure} | {measured:F2} {unit} | {baseline:F2} {unit} ({baselineName}) | {measured / baseline:F2} | {target} |"));

    public static void Machine()
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"machine: {Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1 << 30)} GiB, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}; date {DateTime.UtcNow:yyyy-MM-dd}"));
    }
}
