namespace Serverless.Requests;

/// <summary>
/// The one family of refusals an HTTP caller can cause: each carries the status it answers with and a
/// message for the caller (naming the field and the rule, never a .NET type). The functions app maps
/// the family to RFC 7807 problem details in one place (functions/Http/Problems.cs).
/// </summary>
public class RequestRefusedException : Exception
{
    public RequestRefusedException()
        : this(400, "the request was refused")
    {
    }

    public RequestRefusedException(string message)
        : this(400, message)
    {
    }

    public RequestRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = 400;
    }

    public RequestRefusedException(int status, string message, TimeSpan? retryAfter = null)
        : this(status, message, retryAfter, null)
    {
    }

    /// <summary>A refusal caused by <paramref name="innerException"/> (e.g. a storage precondition that failed).</summary>
    public RequestRefusedException(int status, string message, Exception? innerException)
        : this(status, message, null, innerException)
    {
    }

    private RequestRefusedException(int status, string message, TimeSpan? retryAfter, Exception? innerException)
        : base(message, innerException)
    {
        RetryAfter = retryAfter;
        if (status is < 400 or > 599)
        {
            throw new ArgumentOutOfRangeException(nameof(status), status, "a refusal is a 4xx or 5xx status");
        }

        Status = status;
    }

    /// <summary>The HTTP status the refusal answers with (400, 401, 403, 404, 408, 409, 413, 415, 429, 503).</summary>
    public int Status { get; }

    /// <summary>Seconds a client should wait before trying again (429 and 503), when known.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>The short title of a status, as problem details carry it.</summary>
    public static string TitleOf(int status) => status switch
    {
        400 => "Bad request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not found",
        408 => "Request timeout",
        409 => "Conflict",
        413 => "Payload too large",
        415 => "Unsupported media type",
        429 => "Too many requests",
        503 => "Service unavailable",
        _ => status < 500 ? "Refused" : "Unavailable",
    };

    public static RequestRefusedException BadRequest(string message) => new(400, message);

    public static RequestRefusedException NotFound(string message) => new(404, message);

    public static RequestRefusedException Conflict(string message) => new(409, message);
}
