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

/// <summary>Garbage collections and pause time while some blocks of work ran.</summary>
public sealed class GcActivity
{
    private readonly long[] collections = new long[3];
    private TimeSpan paused;
    private long allocated;

    public IDisposable Measure() => new Scope(this);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"gen0/1/2 collections {collections[0]}/{collections[1]}/{collections[2]}, paused {paused.TotalMilliseconds:F1} ms, allocated {allocated / (1 << 20)} MB");

    private sealed class Scope : IDisposable
    {
        private readonly GcActivity owner;
        private readonly int[] counts = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
        private readonly TimeSpan paused = GC.GetTotalPauseDuration();
        private readonly long allocated = GC.GetTotalAllocatedBytes(precise: true);

        public Scope(GcActivity owner) => this.owner = owner;

        public void Dispose()
        {
            for (var g = 0; g < 3; g++)
            {
                owner.collections[g] += GC.CollectionCount(g) - counts[g];
            }

            owner.paused += GC.GetTotalPauseDuration() - paused;
            owner.allocated += GC.GetTotalAllocatedBytes(precise: true) - allocated;
        }
    }
}

/// <summary>CPU time used by Azurite and by this process.</summary>
public readonly record struct CpuUse(TimeSpan Azurite, TimeSpan Self)
{
    public string PerItem(int count) => string.Create(CultureInfo.InvariantCulture,
        $"CPU per item: Azurite {Azurite.TotalMicroseconds / count:F0} us, benchmark process {Self.TotalMicroseconds / count:F0} us");
}

/// <summary>Measures the CPU time Azurite and this process use while a block runs: unlike elapsed time, it hardly depends on what else runs on the machine.</summary>
public sealed class CpuMeter(Func<TimeSpan> azurite)
{
    public CpuUse Last { get; private set; }

    public IDisposable Measure() => new Scope(this);

    private sealed class Scope(CpuMeter owner) : IDisposable
    {
        private readonly TimeSpan azurite = owner.azuriteCpu();
        private readonly TimeSpan self = Process.GetCurrentProcess().TotalProcessorTime;

        public void Dispose() => owner.Last = new CpuUse(owner.azuriteCpu() - azurite, Process.GetCurrentProcess().TotalProcessorTime - self);
    }

    private readonly Func<TimeSpan> azuriteCpu = azurite;
}
