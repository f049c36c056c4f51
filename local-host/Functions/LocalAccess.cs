using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Serverless.Access;

namespace Serverless.LocalHost.Functions;

/// <summary>
/// What the platform does in front of the functions in Azure, done locally: function keys (when
/// configured) and the signed-in person (a configured development identity instead of App Service
/// authentication). Settings (configuration section <c>LocalHost</c>, e.g. environment variables
/// <c>LocalHost__AdminKey</c>):
/// <list type="bullet">
/// <item><c>FunctionKey</c>, <c>AdminKey</c>: when either is set, Function-level routes need one of
/// them and Admin-level routes the admin key (header <c>x-functions-key</c> or query <c>code</c>), else
/// 401, as the Functions host answers. Neither set: keys are not checked (as with Core Tools).</item>
/// <item><c>DevelopmentIdentity:Name</c>, <c>:ObjectId</c>, <c>:Roles</c> (comma-separated app roles,
/// e.g. <c>Approver</c>): a request without an <c>X-MS-CLIENT-PRINCIPAL</c> header gets this person's,
/// encoded as App Service authentication would. A request that carries its own header keeps it (there
/// is no authentication module locally; in Azure the platform removes client-sent ones).</item>
/// </list>
/// </summary>
public sealed class LocalAccess
{
    public const string Section = "LocalHost";
    public const string KeyHeader = "x-functions-key";
    public const string KeyQuery = "code";

    private readonly byte[]? functionKey;
    private readonly byte[]? adminKey;

    public LocalAccess(string? functionKey, string? adminKey, ClientPrincipal? developmentIdentity)
    {
        this.functionKey = string.IsNullOrEmpty(functionKey) ? null : Encoding.UTF8.GetBytes(functionKey);
        this.adminKey = string.IsNullOrEmpty(adminKey) ? null : Encoding.UTF8.GetBytes(adminKey);
        EncodedIdentity = developmentIdentity?.Encode();
    }

    public bool KeysEnforced => functionKey is not null || adminKey is not null;

    private string? EncodedIdentity { get; }

    public static LocalAccess From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(Section);
        var identity = section.GetSection("DevelopmentIdentity");
        ClientPrincipal? principal = null;
        if (identity["Name"] is { Length: > 0 } name)
        {
            var objectId = identity["ObjectId"] is { Length: > 0 } oid ? oid : "00000000-0000-0000-0000-000000000000";
            var roles = (identity["Roles"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            principal = new ClientPrincipal("aad", name, objectId, roles);
        }

        return new LocalAccess(section["FunctionKey"], section["AdminKey"], principal);
    }

    /// <summary>Null when the request may call a function of <paramref name="level"/>; otherwise why not (a 401).</summary>
    public string? Refusal(HttpRequest request, AuthorizationLevel level)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!KeysEnforced || level == AuthorizationLevel.Anonymous)
        {
            return null;
        }

        var given = request.Headers[KeyHeader].ToString() is { Length: > 0 } header ? header : request.Query[KeyQuery].ToString();
        if (given.Length == 0)
        {
            return $"this route needs a {(level == AuthorizationLevel.Admin ? "admin (master)" : "function")} key in the {KeyHeader} header";
        }

        var bytes = Encoding.UTF8.GetBytes(given);
        var ok = Matches(adminKey, bytes) || (level != AuthorizationLevel.Admin && Matches(functionKey, bytes));
        return ok ? null : $"the key does not open this route ({(level == AuthorizationLevel.Admin ? "an admin route: the admin (master) key" : "a function route")})";
    }

    /// <summary>Adds the development identity's principal header when the request carries none.</summary>
    public void Authenticate(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (EncodedIdentity is not null && string.IsNullOrEmpty(request.Headers[ClientPrincipal.Header].ToString()))
        {
            request.Headers[ClientPrincipal.Header] = EncodedIdentity;
        }
    }

    private static bool Matches(byte[]? key, byte[] given) => key is not null && CryptographicOperations.FixedTimeEquals(key, given);
}
