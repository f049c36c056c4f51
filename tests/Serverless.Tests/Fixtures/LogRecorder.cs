using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Serverless.Tests.Fixtures;

/// <summary>A logger provider that keeps every formatted line of Information and above, with its category, in order.</summary>
public sealed class LogRecorder : ILoggerProvider, ILoggerFactory
{
    private readonly ConcurrentQueue<(string Category, string Message)> lines = new();

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

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                recorder.lines.Enqueue((category, formatter(state, exception)));
            }
        }
    }
}
