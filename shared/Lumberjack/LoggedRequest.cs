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

    private LoggedRequest(string logId, DateTimeOffset requestTime, string member, string modelVersion, string configHash, DateTimeOffset watermark, bool fallback, int count, int width, DateTimeOffset? historyWatermark)
    {
        HistoryWatermark = historyWatermark;
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

    /// <summary>The newest ingest time among the member facts the served history included (see <see cref="FeatureLogRecord.HistoryWatermark"/>).</summary>
    public DateTimeOffset? HistoryWatermark { get; }

    /// <summary>Scored candidates.</summary>
    public int Count { get; }

    /// <summary>Features per candidate.</summary>
    public int Width { get; }

    /// <summary>
    /// Copies a scored request: <paramref name="titles"/> and <paramref name="scores"/> are indexed
    /// by candidate, <paramref name="rows"/> holds candidate i's <paramref name="width"/> features at
    /// i * width, <paramref name="order"/> lists candidates best first.
    /// </summary>
    public static LoggedRequest Capture(string logId, DateTimeOffset requestTime, string member, string modelVersion, string configHash, DateTimeOffset watermark, bool fallback,
        IReadOnlyList<string> titles, ReadOnlySpan<float> rows, int width, ReadOnlySpan<float> scores, ReadOnlySpan<int> order, DateTimeOffset? historyWatermark = null)
    {
        ArgumentNullException.ThrowIfNull(titles);
        if (width is < 1 or > FeatureLogRecord.MaxFeatures)
        {
            throw new ArgumentException($"rows must hold 1..{FeatureLogRecord.MaxFeatures} features", nameof(width));
        }

        if (order.Length == 0 || order.Length > titles.Count || titles.Count != scores.Length || rows.Length != titles.Count * width)
        {
            throw new ArgumentException(
                $"titles ({titles.Count}), scores ({scores.Length}) and rows ({rows.Length} values of width {width}) must match, and order ({order.Length}) must list 1..{titles.Count} of them");
        }

        var request = new LoggedRequest(logId, requestTime, member, modelVersion, configHash, watermark, fallback, order.Length, width, historyWatermark);
        for (var position = 0; position < order.Length; position++)
        {
            var i = order[position];
            if ((uint)i >= (uint)titles.Count)
            {
                request.Dispose();
                throw new ArgumentException($"order names candidate {i}, there are {titles.Count}", nameof(order));
            }

            request.titles![position] = titles[i];
            request.scores![position] = scores[i];
            rows.Slice(i * width, width).CopyTo(request.features.AsSpan(position * width, width));
        }

        return request;
    }

    /// <summary>The same from one array per candidate (every row the same, non-zero length).</summary>
    public static LoggedRequest Capture(string logId, DateTimeOffset requestTime, string member, string modelVersion, string configHash, DateTimeOffset watermark, bool fallback,
        IReadOnlyList<string> titles, IReadOnlyList<float[]> rows, ReadOnlySpan<float> scores, ReadOnlySpan<int> order, DateTimeOffset? historyWatermark = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var width = rows.Count == 0 ? 0 : rows[0].Length;
        if (rows.Any(r => r.Length != width))
        {
            throw new ArgumentException("every row must have the same number of features", nameof(rows));
        }

        return Capture(logId, requestTime, member, modelVersion, configHash, watermark, fallback, titles, rows.SelectMany(r => r).ToArray(), width, scores, order, historyWatermark);
    }

    public string Title(int position) => Live(titles)[Checked(position)];

    public float Score(int position) => Live(scores)[Checked(position)];

    public ReadOnlySpan<float> Features(int position) => Live(features).AsSpan(Checked(position) * Width, Width);

    /// <summary>The rows it stands for (tests and tools; serving never builds them).</summary>
    public IReadOnlyList<FeatureLogRecord> Records() => Enumerable.Range(0, Count).Select(position =>
        new FeatureLogRecord(LogId, RequestTime, Member, Title(position), position, ModelVersion, ConfigHash, Features(position).ToArray(), Score(position), Watermark, Fallback, HistoryWatermark)).ToList();

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

    private int Checked(int position) => (uint)position < (uint)Count ? position : throw new ArgumentOutOfRangeException(nameof(position), position, $"positions are 0..{Count - 1}");

    private T[] Live<T>(T[]? array) => array ?? throw new ObjectDisposedException(nameof(LoggedRequest), $"logged request {LogId} was already handed on and disposed");
}
