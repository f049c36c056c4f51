using Serverless.Requests;

namespace Serverless.Access;

/// <summary>
/// Whether the app believes the <c>X-MS-CLIENT-PRINCIPAL</c> header. In Azure only App Service
/// authentication may name the signed-in person: with it on, the platform sets
/// <c>WEBSITE_AUTH_ENABLED=True</c> and replaces any header a client sent; with it off, nothing
/// removes a client's own header, so the app ignores the header altogether (a forged Approver is
/// nobody: approval and rollback answer 401). Outside App Service nothing vouches for the header either
/// (a container, a VM: anyone could send it), so it is believed only where the host says it sets the
/// header itself: the local host, which fills it from its configured development identity and sets
/// <see cref="TrustSetting"/>.
/// </summary>
public sealed class ClientPrincipalTrust
{
    /// <summary>Set by App Service to <c>True</c> when its authentication (Easy Auth) is enabled for the app.</summary>
    public const string AuthEnabledSetting = "WEBSITE_AUTH_ENABLED";

    /// <summary>Set by App Service (every plan, Flex Consumption included) to the app's name.</summary>
    public const string SiteNameSetting = "WEBSITE_SITE_NAME";

    /// <summary>Set by App Service to the instance's id.</summary>
    public const string InstanceIdSetting = "WEBSITE_INSTANCE_ID";

    /// <summary>
    /// Set to <c>true</c> by a host that fills the header itself (the local host): outside App Service the
    /// header is believed only then. Ignored in App Service, where only its authentication decides.
    /// </summary>
    public const string TrustSetting = "LocalHost:TrustClientPrincipal";

    private ClientPrincipalTrust(bool honoured, string source, string? refusal)
    {
        Honoured = honoured;
        Source = source;
        Refusal = refusal;
    }

    /// <summary>App Service authentication is on: the header is the platform's.</summary>
    public static ClientPrincipalTrust AppServiceAuthentication { get; } = new(true, "App Service authentication", null);

    /// <summary>In App Service with its authentication off: the header could be anyone's, and is ignored.</summary>
    public static ClientPrincipalTrust AuthenticationOff { get; } = new(false, "none (App Service authentication is off)",
        "this action needs a signed-in person, and App Service authentication is off on this app (WEBSITE_AUTH_ENABLED is not True), so no client principal is believed; deploy with authClientId (docs/deploy.md, section 3)");

    /// <summary>Not in App Service, on a host that sets the header itself (the local host, from its development identity).</summary>
    public static ClientPrincipalTrust Local { get; } = new(true, "the host (not App Service)", null);

    /// <summary>Neither App Service nor a host that sets the header: nobody vouches for it, and it is ignored.</summary>
    public static ClientPrincipalTrust Unvouched { get; } = new(false, "none (not App Service, and the host does not set the header)",
        "this action needs a signed-in person, and nothing here vouches for a client principal: run in App Service with its authentication on (docs/deploy.md, section 3), or on the local host with its development identity");

    /// <summary>Whether a client principal header is believed at all.</summary>
    public bool Honoured { get; }

    /// <summary>Who vouches for the header, in words (for logs).</summary>
    public string Source { get; }

    /// <summary>Why no one can be signed in, when the header is not honoured.</summary>
    public string? Refusal { get; }

    /// <summary>The trust the settings (app settings and the platform's environment variables) call for.</summary>
    public static ClientPrincipalTrust From(Func<string, string?> setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        if (string.Equals(setting(AuthEnabledSetting)?.Trim(), "true", StringComparison.OrdinalIgnoreCase))
        {
            return AppServiceAuthentication;
        }

        if (!string.IsNullOrEmpty(setting(SiteNameSetting)) || !string.IsNullOrEmpty(setting(InstanceIdSetting)))
        {
            return AuthenticationOff;
        }

        return string.Equals(setting(TrustSetting)?.Trim(), "true", StringComparison.OrdinalIgnoreCase) ? Local : Unvouched;
    }

    /// <summary>The trust this process's environment calls for (configuration keys as environment variables: ':' is '__').</summary>
    public static ClientPrincipalTrust FromEnvironment() => From(key => Environment.GetEnvironmentVariable(key.Replace(":", "__", StringComparison.Ordinal)));

    /// <summary>The signed-in person a header names, when it names one and is believed (a garbled header that is believed is a 401 refusal).</summary>
    public ClientPrincipal? Optional(string? header) =>
        !Honoured || string.IsNullOrWhiteSpace(header) ? null : ClientPrincipal.Parse(header);

    /// <summary>The signed-in person, who must hold <paramref name="role"/>: 401 without one (or when no header is believed), 403 without the role.</summary>
    public ClientPrincipal RequireRole(string? header, string role) =>
        Honoured ? ClientPrincipal.RequireRole(header, role) : throw new RequestRefusedException(401, Refusal!);
}
