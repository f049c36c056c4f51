using System.Text;
using System.Text.Json;
using Serverless.Requests;

namespace Serverless.Access;

/// <summary>Who may do what among operator actions. Roles are app roles of the Entra app registration.</summary>
public static class OperatorRoles
{
    /// <summary>May approve or reject a candidate at the approval gate, and roll the live model back.</summary>
    public const string Approver = "Approver";
}

/// <summary>A person (or app) the platform authenticated: what the model registry and the pipeline record.</summary>
/// <param name="Name">A readable name (the user principal name or display name).</param>
/// <param name="ObjectId">The Entra object id (the <c>oid</c> claim), stable across renames.</param>
public sealed record OperatorIdentity(string Name, string ObjectId);

/// <summary>
/// The principal App Service authentication hands to the app in the <c>X-MS-CLIENT-PRINCIPAL</c>
/// header: base64 of <c>{"auth_typ": "aad", "claims": [{"typ": "...", "val": "..."}], "name_typ": "...",
/// "role_typ": "..."}</c>. The app believes it only as far as <see cref="ClientPrincipalTrust"/> says:
/// in Azure only with App Service authentication on (which replaces any header a client sent); the
/// local host fills it from a configured development identity.
/// </summary>
public sealed record ClientPrincipal(string IdentityProvider, string Name, string ObjectId, IReadOnlyList<string> Roles)
{
    public const string Header = "X-MS-CLIENT-PRINCIPAL";

    /// <summary>The object id claim as App Service maps it, and as the token carries it.</summary>
    public const string ObjectIdClaim = "http://schemas.microsoft.com/identity/claims/objectidentifier";

    public const string DefaultNameClaim = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";

    public const string DefaultRoleClaim = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";

    private const int MaxHeaderLength = 16 * 1024;

    public OperatorIdentity Identity => new(Name, ObjectId);

    public bool IsInRole(string role) => Roles.Contains(role, StringComparer.Ordinal);

    /// <summary>
    /// The authenticated principal of a request: 401 when there is none or the header is not a
    /// principal with a name and an object id.
    /// </summary>
    public static ClientPrincipal Parse(string? header)
    {
        if (string.IsNullOrWhiteSpace(header))
        {
            throw new RequestRefusedException(401, "this action needs a signed-in person (App Service authentication with Microsoft Entra ID); no client principal was given");
        }

        if (header.Length > MaxHeaderLength)
        {
            throw new RequestRefusedException(401, "the client principal header is too long");
        }

        try
        {
            using var doc = JsonDocument.Parse(Convert.FromBase64String(header.Trim()));
            var root = doc.RootElement;
            var provider = Text(root, "auth_typ") ?? "";
            var nameType = Text(root, "name_typ") ?? DefaultNameClaim;
            var roleType = Text(root, "role_typ") ?? DefaultRoleClaim;
            var claims = root.TryGetProperty("claims", out var c) && c.ValueKind == JsonValueKind.Array
                ? c.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Object).Select(x => (Typ: Text(x, "typ"), Val: Text(x, "val"))).Where(x => x.Typ is not null && x.Val is not null).ToList()
                : [];
            string? Claim(params string[] types) => types.Select(t => claims.FirstOrDefault(x => x.Typ == t).Val).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
            var name = Claim(nameType, "name", "preferred_username", DefaultNameClaim);
            var objectId = Claim(ObjectIdClaim, "oid");
            if (name is null || objectId is null)
            {
                throw new RequestRefusedException(401, "the client principal names no person: it needs a name claim and an object id (oid) claim");
            }

            var roles = claims.Where(x => x.Typ == roleType || x.Typ == "roles" || x.Typ == DefaultRoleClaim).Select(x => x.Val!).Distinct(StringComparer.Ordinal).ToList();
            return new ClientPrincipal(provider, Cut(name), Cut(objectId), roles);
        }
        catch (Exception ex) when (ex is FormatException or JsonException or InvalidOperationException or DecoderFallbackException)
        {
            throw new RequestRefusedException(401, "the client principal header is not base64 JSON of a principal");
        }
    }

    /// <summary>The authenticated person, who must hold <paramref name="role"/>: 401 without a principal, 403 without the role.</summary>
    public static ClientPrincipal RequireRole(string? header, string role)
    {
        var principal = Parse(header);
        return principal.IsInRole(role)
            ? principal
            : throw new RequestRefusedException(403, $"{principal.Name} does not hold the app role '{role}' this action needs");
    }

    /// <summary>The header value App Service would send for this principal (used by the local host's development identity and tests).</summary>
    public string Encode()
    {
        var claims = new List<object>
        {
            new { typ = DefaultNameClaim, val = Name },
            new { typ = "name", val = Name },
            new { typ = ObjectIdClaim, val = ObjectId },
        };
        claims.AddRange(Roles.Select(r => new { typ = "roles", val = r }));
        var json = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["auth_typ"] = IdentityProvider,
            ["claims"] = claims,
            ["name_typ"] = DefaultNameClaim,
            ["role_typ"] = "roles",
        });
        return Convert.ToBase64String(json);
    }

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string Cut(string s) => s.Length <= 200 ? s : s[..200];
}
