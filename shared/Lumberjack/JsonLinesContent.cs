namespace Serverless.Lumberjack;

/// <summary>
/// Delivered event bodies read as one JSON-lines blob (each body, then '\n') without copying them
/// into one buffer first: the landing uploads the bytes it received straight from where they are.
/// A file of 500 requests is ~7.7 MB; building it in a MemoryStream cost a large-object allocation
/// per batch (fresh pages the kernel zeroes, and full collections as the large-object heap grows)
/// and a copy of every byte before the upload copied them again.
/// Seekable with a known length, so the storage client sends it in one request and rewinds it to retry.
/// </summary>
internal sealed class JsonLinesContent : Stream
{
    private readonly List<ReadOnlyMemory<byte>> lines;
    private long length;
    private long position;

    // Where the next read starts: a line, and an offset in it (its length = the line's '\n').
    private int line;
    private int offset;

    public JsonLinesContent(int capacity) => lines = new List<ReadOnlyMemory<byte>>(capacity);

    /// <summary>Appends one event as one line: valid JSON holds CR/LF only as whitespace between tokens, so they become spaces.</summary>
    public void Add(ReadOnlyMemory<byte> body)
    {
        if (body.Span.IndexOfAny((byte)'\n', (byte)'\r') >= 0)
        {
            var copy = body.ToArray();
            copy.AsSpan().Replace((byte)'\n', (byte)' ');
            copy.AsSpan().Replace((byte)'\r', (byte)' ');
            body = copy;
        }

        lines.Add(body);
        length += body.Length + 1;
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => position;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            position = Math.Min(value, length);
            line = 0;
            offset = 0;
            var skip = position;
            while (line < lines.Count && skip > lines[line].Length)
            {
                skip -= lines[line].Length + 1;
                line++;
            }

            offset = (int)skip;
        }
    }

    public override int Read(Span<byte> buffer)
    {
        var written = 0;
        while (written < buffer.Length && line < lines.Count)
        {
            var body = lines[line].Span;
            if (offset < body.Length)
            {
                var count = Math.Min(body.Length - offset, buffer.Length - written);
                body.Slice(offset, count).CopyTo(buffer[written..]);
                offset += count;
                written += count;
            }
            else
            {
                buffer[written++] = (byte)'\n';
                line++;
                offset = 0;
            }
        }

        position += written;
        return written;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled<int>(cancellationToken) : ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => position + offset,
        SeekOrigin.End => length + offset,
        _ => throw new ArgumentOutOfRangeException(nameof(origin)),
    };

    public override void Flush()
    {
    }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
