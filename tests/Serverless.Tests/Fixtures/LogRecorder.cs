using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Serverless.Tests.Fixtures;

/// <summary>
/// A logger provider that keeps every formatted line at <paramref name="minimum"/> and above (Information
/// unless told), with its category and any exception's message, in order.
/// </summary>
public sealed class LogRecorder(LogLevel minimum = LogLevel.Information) : ILoggerProvider, ILoggerFactory
{
    private readonly ConcurrentQueue<(string Category, string Message)> lines = new();
    private readonly LogLevel minimum = minimum;

    public IReadOnlyList<(string Category, string Message)> Lines => lines.ToArray();

    /// <summary>The lines of loggers whose category ends with <paramref name="category"/> (e.g. a class name).</summary>
    public IReadOnlyList<string> Of(string category) =>
        lines.Where(l => l.Category.EndsWith(category, StringComparison.Ordinal)).Select(l => l.Message).ToList();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(LogRecorder recorder, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= recorder.minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                recorder.lines.Enqueue((category, exception is null ? formatter(state, exception) : $"{formatter(state, exception)} {exception.Message}"));
            }
        }
    }
}
