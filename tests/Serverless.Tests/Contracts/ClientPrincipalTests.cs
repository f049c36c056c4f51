using System.Text;
using Serverless.Access;
using Serverless.Requests;

namespace Serverless.Tests.Contracts;

/// <summary>The platform's client principal header (App Service authentication), read as the app reads it.</summary>
public sealed class ClientPrincipalTests
{
    private static string Header(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void An_App_Service_principal_gives_the_name_object_id_and_roles()
    {
        // The shape App Service sends for Microsoft Entra ID (claims after its default mapping).
        var header = Header("""
            {"auth_typ":"aad","name_typ":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name","role_typ":"http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
             "claims":[{"typ":"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name","val":"ada@contoso.com"},
                       {"typ":"http://schemas.microsoft.com/identity/claims/objectidentifier","val":"6f1d2c3b-0000-4000-8000-000000000001"},
                       {"typ":"roles","val":"Approver"},{"typ":"roles","val":"Reader"},{"typ":"ver","val":"2.0"}]}
            """);
        var principal = ClientPrincipal.RequireRole(header, OperatorRoles.Approver);
        Assert.Equal(new OperatorIdentity("ada@contoso.com", "6f1d2c3b-0000-4000-8000-000000000001"), principal.Identity);
        Assert.Equal(["Approver", "Reader"], principal.Roles);
        Assert.Equal("aad", principal.IdentityProvider);
    }

    [Fact]
    public void A_role_claim_of_the_declared_role_type_counts()
    {
        var header = Header("""{"auth_typ":"aad","name_typ":"name","role_typ":"http://schemas.microsoft.com/ws/2008/06/identity/claims/role","claims":[{"typ":"name","val":"Bo"},{"typ":"oid","val":"b0"},{"typ":"http://schemas.microsoft.com/ws/2008/06/identity/claims/role","val":"Approver"}]}""");
        Assert.True(ClientPrincipal.Parse(header).IsInRole(OperatorRoles.Approver));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not base64!")]
    [InlineData("bnVsbA==")]                      // null
    [InlineData("eyJjbGFpbXMiOltdfQ==")]          // {"claims":[]}: nobody
    [InlineData("W10=")]                          // []
    public void No_or_a_garbled_principal_is_a_401(string? header)
    {
        var refused = Assert.Throws<RequestRefusedException>(() => ClientPrincipal.RequireRole(header, OperatorRoles.Approver));
        Assert.Equal(401, refused.Status);
        Assert.DoesNotContain("System.", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_person_without_the_role_is_a_403_naming_them_and_the_role()
    {
        var header = new ClientPrincipal("aad", "Rita Reader", "r-1", ["Reader"]).Encode();
        var refused = Assert.Throws<RequestRefusedException>(() => ClientPrincipal.RequireRole(header, OperatorRoles.Approver));
        Assert.Equal(403, refused.Status);
        Assert.Equal("Rita Reader does not hold the app role 'Approver' this action needs", refused.Message);
    }

    [Fact]
    public void Encode_round_trips()
    {
        var principal = new ClientPrincipal("aad", "Dev", "d-1", ["Approver"]);
        var read = ClientPrincipal.Parse(principal.Encode());
        Assert.Equal((principal.Name, principal.ObjectId, "Approver"), (read.Name, read.ObjectId, Assert.Single(read.Roles)));
    }
}
