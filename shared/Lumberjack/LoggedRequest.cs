using System.Buffers;

namespace Serverless.Lumberjack;

/// <summary>
/// One ranked request as serving hands it to the Lumberjack, in ranking order (position k is the
/// k-th ranked candidate). <see cref="Capture"/> copies what serving scored into pooled arrays, so
/// the request's own arrays die young and a request waiting in the buffer holds no garbage that a
/// collection would have to copy; whoever owns it last disposes it, which returns the arrays.
/// </summary>
public sealed class LoggedRequest : IDisposable
{
    private static readonly ArrayPool<float> Floats = ArrayPool<float>.Create(1 << 20, 256);
    private static readonly ArrayPool<string> Strings = ArrayPool<string>.Create(1 << 12, 256);

    private string[]? titles;
    private float[]? features;
    private float[]? scores;

    private LoggedRequest(string logId, DateTimeOffset requestTime, string member, string modelVersion, string configHash, DateTimeOffset watermark, bool fallback, int count, int width)
    {
        LogId = logId;
        RequestTime = requestTime;
        Member = member;
        ModelVersion = modelVersion;
        ConfigHash = configHash;
        Watermark = watermark;
        Fallback = fallback;
        Count = count;
        Width = width;
        titles = Strings.Rent(count);
        features = Floats.Rent(count * width);
        scores = Floats.Rent(count);
    }

    public string LogId { get; }
    public DateTimeOffset RequestTime { get; }
    public string Member { get; }
    public string ModelVersion { get; }
    public string ConfigHash { get; }
    public DateTimeOffset Watermark { get; }
    public bool Fallback { get; }

    /// <summary>Scored candidates.</summary>
    public int Count { get; }

    /// <summary>Features per candidate.</summary>
    public int Width { get; }

    /// <summary>
    /// Copies a scored request: <paramref name="titles"/>, <paramref name="rows"/> and
    /// <paramref name="scores"/> are indexed by candidate, <paramref name="order"/> lists candidates
    /// best first. Every row must have the same, non-zero length.
    /// </summary>
    public static LoggedRequest Capture(string logId, DateTimeOffset requestTime, string member, string modelVersion, string configHash, DateTimeOffset watermark, bool fallback,
        IReadOnlyList<string> titles, IReadOnlyList<float[]> rows, ReadOnlySpan<float> scores, ReadOnlySpan<int> order)
    {
        ArgumentNullException.ThrowIfNull(titles);
        ArgumentNullException.ThrowIfNull(rows);
        if (order.Length == 0 || order.Length > titles.Count || titles.Count != rows.Count || rows.Count != scores.Length)
        {
            throw new ArgumentException($"titles ({titles.Count}), rows ({rows.Count}) and scores ({scores.Length}) must match, and order ({order.Length}) must list 1..{titles.Count} of them");
        }

        var width = rows[0].Length;
        if (width is 0 or > FeatureLogRecord.MaxFeatures)
        {
            throw new ArgumentException($"rows must hold 1..{FeatureLogRecord.MaxFeatures} features", nameof(rows));
        }

        var request = new LoggedRequest(logId, requestTime, member, modelVersion, configHash, watermark, fallback, order.Length, width);
        for (var position = 0; position < order.Length; position++)
        {
            var i = order[position];
            if (rows[i].Length != width)
            {
                request.Dispose();
                throw new ArgumentException($"row {i} has {rows[i].Length} features, row 0 has {width}", nameof(rows));
            }

            request.titles![position] = titles[i];
            request.scores![position] = scores[i];
            rows[i].CopyTo(request.features.AsSpan(position * width, width));
        }

        return request;
    }

    public string Title(int position) => Live(titles)[position];

    public float Score(int position) => Live(scores)[position];

    public ReadOnlySpan<float> Features(int position) => Live(features).AsSpan(position * Width, Width);

    /// <summary>The rows it stands for (tests and tools; serving never builds them).</summary>
    public IReadOnlyList<FeatureLogRecord> Records() => Enumerable.Range(0, Count).Select(position =>
        new FeatureLogRecord(LogId, RequestTime, Member, Title(position), position, ModelVersion, ConfigHash, Features(position).ToArray(), Score(position), Watermark, Fallback)).ToList();

    /// <summary>Returns the pooled arrays; the request cannot be read afterwards.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref titles, null) is { } t)
        {
            Array.Clear(t, 0, Count);
            Strings.Return(t);
        }

        if (Interlocked.Exchange(ref features, null) is { } f)
        {
            Floats.Return(f);
        }

        if (Interlocked.Exchange(ref scores, null) is { } s)
        {
            Floats.Return(s);
        }
    }

    private T[] Live<T>(T[]? array) => array ?? throw new ObjectDisposedException(nameof(LoggedRequest), $"logged request {LogId} was already handed on and disposed");
}
