using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
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
    /// <paramref name="role"/>: a 401 refusal without one (or when the header is not believed, see
    /// <see cref="ClientPrincipalTrust"/>), 403 without the role.
    /// </summary>
    public static OperatorIdentity RequireRole(this HttpRequest request, string role)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Trust(request).RequireRole(request.Headers[ClientPrincipal.Header].ToString(), role).Identity;
    }

    /// <summary>The signed-in person, when the platform names one and is believed (a garbled header is a 401 refusal).</summary>
    public static OperatorIdentity? OptionalPrincipal(this HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Trust(request).Optional(request.Headers[ClientPrincipal.Header].ToString())?.Identity;
    }

    private static ClientPrincipalTrust Trust(HttpRequest request) =>
        request.HttpContext.RequestServices?.GetService<ClientPrincipalTrust>() ?? ClientPrincipalTrust.FromEnvironment();
}
