using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Serverless.Facts;

namespace Serverless.Functions.Http;

/// <summary>Request bodies as JSON, bounded: more than the limit is a 413 whether or not Content-Length says so.</summary>
public static class JsonBody
{
    /// <summary>
    /// Reads at most <paramref name="maxBytes"/> of the body and deserializes it. An empty body gives
    /// <paramref name="whenEmpty"/>. Returns a problem (413, or 400 for malformed JSON) instead of a value when refused.
    /// </summary>
    public static async Task<(T? Value, IActionResult? Problem)> ReadAsync<T>(HttpRequest request, int maxBytes, T? whenEmpty = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength > maxBytes)
        {
            return (default, TooLarge(request, maxBytes));
        }

        using var buffer = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes + 1, 16 * 1024));
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    return (default, TooLarge(request, maxBytes));
                }

                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        if (bytes.Trim(" \t\r\n"u8).IsEmpty)
        {
            return (whenEmpty, null);
        }

        try
        {
            return (JsonSerializer.Deserialize<T>(bytes, FactJson.Options) ?? whenEmpty, null);
        }
        catch (JsonException ex)
        {
            return (default, Problems.BadRequest($"malformed JSON: {ex.Message}", request));
        }
    }

    private static ObjectResult TooLarge(HttpRequest request, int maxBytes) =>
        Problems.Create(StatusCodes.Status413PayloadTooLarge, "Payload too large", $"the body may hold at most {maxBytes} bytes", request);
}
