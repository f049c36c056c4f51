using Microsoft.AspNetCore.Http;
using Serverless.Access;
using Serverless.Requests;

namespace Serverless.Functions.Http;

/// <summary>What a function reads from an HTTP request, handed to the domain without ASP.NET types.</summary>
public static class HttpRequests
{
    /// <summary>The query string as the domain's <see cref="RequestQuery"/> (the Functions key parameter left out).</summary>
    public static RequestQuery QueryParameters(this HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new RequestQuery(request.Query.Select(q => new KeyValuePair<string, IReadOnlyList<string?>>(q.Key, q.Value.ToArray())));
    }

    /// <summary>
    /// The signed-in person the platform names in <c>X-MS-CLIENT-PRINCIPAL</c>, who must hold
    /// <paramref name="role"/>: a 401 refusal without one, 403 without the role.
    /// </summary>
    public static ClientPrincipal RequireRole(this HttpRequest request, string role)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ClientPrincipal.RequireRole(request.Headers[ClientPrincipal.Header].ToString(), role);
    }

    /// <summary>The signed-in person, when the platform names one (a garbled header is a 401 refusal).</summary>
    public static ClientPrincipal? OptionalPrincipal(this HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var header = request.Headers[ClientPrincipal.Header].ToString();
        return string.IsNullOrWhiteSpace(header) ? null : ClientPrincipal.Parse(header);
    }
}
