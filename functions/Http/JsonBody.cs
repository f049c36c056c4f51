using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Serverless.Facts;
using Serverless.Requests;

namespace Serverless.Functions.Http;

/// <summary>
/// Request bodies as JSON, bounded and strict: more than the limit is a 413 whether or not
/// Content-Length says so; a body that is not declared JSON is a 415; a body shorter than its
/// Content-Length (the client stopped sending) is a 400, or a 408 when it stopped arriving; an
/// unknown field is a 400 naming it; a value of the wrong kind is a 400 naming the field and what
/// it must be. Messages never name our .NET types.
/// </summary>
public static class JsonBody
{
    /// <summary>
    /// Reads at most <paramref name="maxBytes"/> of the body and deserializes it. An empty body gives
    /// <paramref name="whenEmpty"/>. Throws <see cref="RequestRefusedException"/> (400, 408, 413, 415) when refused.
    /// </summary>
    public static async Task<T?> ReadAsync<T>(HttpRequest request, int maxBytes, T? whenEmpty = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(maxBytes);
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
                    throw TooLarge(maxBytes);
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException ex)
        {
            // Kestrel: the body ended before Content-Length (400) or stopped arriving (408).
            throw ex.StatusCode == StatusCodes.Status408RequestTimeout
                ? new RequestRefusedException(StatusCodes.Status408RequestTimeout, "the request body stopped arriving before its Content-Length was reached")
                : new RequestRefusedException(StatusCodes.Status400BadRequest, "the request body ended before its Content-Length was reached");
        }
        catch (IOException)
        {
            throw new RequestRefusedException(StatusCodes.Status400BadRequest, "the request body ended before its Content-Length was reached");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        if (bytes.Trim(" \t\r\n"u8).IsEmpty)
        {
            return whenEmpty;
        }

        if (!IsJson(request.ContentType))
        {
            throw new RequestRefusedException(StatusCodes.Status415UnsupportedMediaType,
                $"the body must be JSON sent with Content-Type: application/json (got {(string.IsNullOrEmpty(request.ContentType) ? "none" : Cut(request.ContentType))})");
        }

        return JsonShape.TryRead<T>(bytes, JsonShape.Strict, out var value, out var error)
            ? value ?? whenEmpty
            : throw new RequestRefusedException(StatusCodes.Status400BadRequest, error!);
    }

    /// <summary>application/json, or any type with a +json suffix (e.g. application/problem+json).</summary>
    public static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.MediaType.Value?.EndsWith("+json", StringComparison.OrdinalIgnoreCase) == true);

    private static string Cut(string s) => s.Length <= 60 ? s : s[..60] + "...";

    private static RequestRefusedException TooLarge(int maxBytes) =>
        new(StatusCodes.Status413PayloadTooLarge, $"the body may hold at most {maxBytes} bytes");
}
