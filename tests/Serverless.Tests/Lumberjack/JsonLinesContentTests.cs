using System.Text;
using Serverless.Lumberjack;

namespace Serverless.Tests.Lumberjack;

/// <summary>The landing uploads delivered bodies in place: what the stream reads is the JSON-lines file, however it is read.</summary>
public sealed class JsonLinesContentTests
{
    private static readonly byte[][] Bodies =
    [
        Encoding.UTF8.GetBytes("{\"a\":1}"),
        Encoding.UTF8.GetBytes("{\r\n  \"b\": [1,\n2]\n}"),
        [],
        Encoding.UTF8.GetBytes(new string('x', 70_000)),
        Encoding.UTF8.GetBytes("{\"c\":\"end\"}"),
    ];

    private static byte[] Expected() =>
        [.. Bodies.SelectMany(b => Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(b).Replace('\r', ' ').Replace('\n', ' ')).Append((byte)'\n'))];

    private static JsonLinesContent Content()
    {
        var content = new JsonLinesContent(Bodies.Length);
        foreach (var body in Bodies)
        {
            content.Add(body);
        }

        return content;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    [InlineData(81_920)]
    [InlineData(1 << 20)]
    public async Task Reads_the_bodies_one_per_line_in_any_buffer_size(int bufferSize)
    {
        await using var content = Content();
        var expected = Expected();
        Assert.Equal(expected.Length, content.Length);

        using var copy = new MemoryStream();
        await content.CopyToAsync(copy, bufferSize);
        Assert.Equal(expected, copy.ToArray());
        Assert.Equal(content.Length, content.Position);
        Assert.Equal(0, content.Read(new byte[10]));
    }

    [Fact]
    public void Newlines_inside_a_body_become_spaces_and_the_delivered_bytes_are_left_alone()
    {
        using var content = Content();
        using var copy = new MemoryStream();
        content.CopyTo(copy);
        Assert.Equal(Bodies.Length, copy.ToArray().Count(b => b == (byte)'\n'));
        Assert.Contains((byte)'\n', Bodies[1]);
    }

    [Fact]
    public void Seeking_anywhere_reads_on_from_there_so_a_retry_can_rewind()
    {
        using var content = Content();
        var expected = Expected();
        foreach (var at in new long[] { 0, 1, 7, 8, 9, 30, expected.Length - 13, expected.Length - 1, expected.Length })
        {
            content.Position = 5;
            content.ReadExactly(new byte[3]);
            Assert.Equal(at, content.Seek(at, SeekOrigin.Begin));
            using var rest = new MemoryStream();
            content.CopyTo(rest);
            Assert.Equal(expected[(int)at..], rest.ToArray());
        }

        Assert.Equal(expected.Length - 2, content.Seek(-2, SeekOrigin.End));
        Assert.Equal(expected.Length - 1, content.Seek(1, SeekOrigin.Current));
    }
}
