using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Serverless.Archive;
using Serverless.Events;
using Serverless.Facts;

namespace Serverless.Tests.Fixtures;

/// <summary>An archive on its own tables in the shared Azurite, with a fake clock.</summary>
public sealed class ArchiveHarness : IDisposable
{
    public static readonly DateTimeOffset Start = new(2018, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private long sequence;

    public ArchiveHarness(AzuriteFixture azurite, Action<ArchiveOptions>? configure = null)
    {
        Options = new ArchiveOptions { TablePrefix = azurite.NewPrefix(), BatchPagesPerSecond = 1000, BatchMaxConcurrency = 4 };
        configure?.Invoke(Options);
        Clock = new FakeTimeProvider(Start);
        Tables = new ArchiveTables(azurite.Tables(), azurite.Blobs(), Microsoft.Extensions.Options.Options.Create(Options));
        Tables.EnsureCreatedAsync().GetAwaiter().GetResult();
        Throttle = new BatchThrottle(Microsoft.Extensions.Options.Options.Create(Options));
        Archive = new FactArchive(Tables, new FactValidator(new FactLimits()), Options, Clock, NullLogger<FactArchive>.Instance);
        Reader = new ArchiveReader(Tables, Throttle, Clock, Options);
    }

    public ArchiveOptions Options { get; }
    public FakeTimeProvider Clock { get; }
    public ArchiveTables Tables { get; }
    public BatchThrottle Throttle { get; }
    public FactArchive Archive { get; }
    public ArchiveReader Reader { get; }

    /// <summary>An event as the hub would deliver it now (enqueued = the fake clock).</summary>
    public IncomingEvent Event(FactEnvelope fact) => Event(JsonSerializer.Serialize(fact, FactJson.Options));

    public IncomingEvent Event(string body) => new(Encoding.UTF8.GetBytes(body), Clock.GetUtcNow(), Interlocked.Increment(ref sequence));

    public static FactEnvelope Rating(int member, int title, double value, DateTimeOffset at, string? id = null, string? supersedes = null) => new()
    {
        Id = id ?? $"rating:{member}:{title}",
        Kind = "rating",
        Member = member.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Title = title.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Value = value,
        EventTime = at,
        Supersedes = supersedes,
    };

    /// <summary>
    /// Every row of the facts table (fact rows and the members' recent-history entities), as
    /// comparable text (key + all properties except the ETag/Timestamp; binary values in base64).
    /// </summary>
    public async Task<List<string>> DumpAsync()
    {
        var rows = new List<string>();
        await foreach (var e in Tables.Facts.QueryAsync<TableEntity>())
        {
            rows.Add(string.Join("|", e.Where(kv => kv.Key is not ("odata.etag" or "Timestamp")).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={Text(kv.Value)}")));
        }

        rows.Sort(StringComparer.Ordinal);
        return rows;
    }

    /// <summary>The fact rows of <see cref="DumpAsync"/> (without the recent-history entities and the identity rows).</summary>
    public async Task<List<string>> DumpFactRowsAsync() =>
        (await DumpAsync()).Where(r => !r.Contains("RowKey=" + RecentHistory.FactRowKeyBound, StringComparison.Ordinal)).ToList();

    private static string? Text(object? value) => value switch
    {
        BinaryData data => Convert.ToBase64String(data.ToArray()),
        byte[] bytes => Convert.ToBase64String(bytes),
        _ => value?.ToString(),
    };

    public void Dispose() => Throttle.Dispose();
}
