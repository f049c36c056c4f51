using Serverless.Access;
using Serverless.Requests;

namespace Serverless.Tests.Contracts;

/// <summary>
/// Whether the app believes X-MS-CLIENT-PRINCIPAL: in App Service only while its authentication is on
/// (the platform's WEBSITE_AUTH_ENABLED=True), outside App Service (the local host) always.
/// </summary>
public sealed class ClientPrincipalTrustTests
{
    private static readonly string ForgedApprover = new ClientPrincipal("aad", "Mallory", "66666666-0000-0000-0000-000000000006", [OperatorRoles.Approver]).Encode();

    private static ClientPrincipalTrust Trust(params (string Key, string Value)[] settings) =>
        ClientPrincipalTrust.From(key => settings.FirstOrDefault(s => s.Key == key).Value);

    [Theory]
    [InlineData("True")]
    [InlineData("true")]
    public void With_App_Service_authentication_on_the_header_is_believed(string enabled)
    {
        var trust = Trust(("WEBSITE_SITE_NAME", "func-x"), ("WEBSITE_AUTH_ENABLED", enabled));
        Assert.Same(ClientPrincipalTrust.AppServiceAuthentication, trust);
        Assert.Equal("Mallory", trust.RequireRole(ForgedApprover, OperatorRoles.Approver).Name);
        Assert.Equal("66666666-0000-0000-0000-000000000006", trust.Optional(ForgedApprover)!.ObjectId);
    }

    [Theory]
    [InlineData("WEBSITE_SITE_NAME", null)]
    [InlineData("WEBSITE_INSTANCE_ID", null)]
    [InlineData("WEBSITE_SITE_NAME", "False")]
    [InlineData("WEBSITE_SITE_NAME", "")]
    public void In_App_Service_with_authentication_off_no_header_is_believed(string azureSetting, string? enabled)
    {
        var trust = Trust((azureSetting, "func-x"), ("WEBSITE_AUTH_ENABLED", enabled!));
        Assert.Same(ClientPrincipalTrust.AuthenticationOff, trust);
        var refused = Assert.Throws<RequestRefusedException>(() => trust.RequireRole(ForgedApprover, OperatorRoles.Approver));
        Assert.Equal(401, refused.Status);
        Assert.Contains("App Service authentication is off", refused.Message, StringComparison.Ordinal);

        // Who started something is then the typed name: the forged principal is nobody.
        Assert.Null(trust.Optional(ForgedApprover));
        Assert.Null(trust.Optional("not base64 {"));
    }

    [Fact]
    public void Outside_App_Service_nothing_vouches_for_the_header_unless_the_host_sets_it_itself()
    {
        // A container or VM: anyone could send the header, so a forged Approver is nobody.
        var unvouched = Trust();
        Assert.Same(ClientPrincipalTrust.Unvouched, unvouched);
        Assert.Equal(401, Assert.Throws<RequestRefusedException>(() => unvouched.RequireRole(ForgedApprover, OperatorRoles.Approver)).Status);
        Assert.Null(unvouched.Optional(ForgedApprover));

        // In App Service the trust setting changes nothing: only its authentication decides.
        Assert.Same(ClientPrincipalTrust.AuthenticationOff, Trust(("WEBSITE_SITE_NAME", "func-x"), (ClientPrincipalTrust.TrustSetting, "true")));

        // The local host, which fills the header from its development identity, says so.
        var trust = Trust((ClientPrincipalTrust.TrustSetting, "true"));
        Assert.Same(ClientPrincipalTrust.Local, trust);
        Assert.Equal("Mallory", trust.RequireRole(ForgedApprover, OperatorRoles.Approver).Name);
        Assert.Equal(401, Assert.Throws<RequestRefusedException>(() => trust.Optional("not base64 {")).Status);
        Assert.Null(trust.Optional(""));
    }
}
