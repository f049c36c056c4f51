using System.Text.Json.Nodes;
using Serverless.Access;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Infrastructure;

/// <summary>Approvals come from a signed-in person: App Service authentication with Microsoft Entra ID, in the compiled template.</summary>
[Collection(BicepCollection.Name)]
public sealed class AppServiceAuthTests(CompiledTemplateFixture compiled)
{
    [Fact]
    public void The_function_app_turns_on_App_Service_authentication_with_Entra_ID_and_lets_keyed_calls_through()
    {
        var auth = Assert.Single(ArmTemplate.DeployedResources(compiled.Template, "Microsoft.Web/sites/config"), r => r["name"]!.ToString().Contains("authsettingsV2", StringComparison.Ordinal));
        var properties = auth["properties"]!;
        Assert.True(properties["platform"]!["enabled"]!.GetValue<bool>());
        // Reads and serving are called with function keys and no token; the code checks the principal and its role.
        Assert.Equal("AllowAnonymous", (string?)properties["globalValidation"]!["unauthenticatedClientAction"]);
        Assert.False(properties["globalValidation"]!["requireAuthentication"]!.GetValue<bool>());
        var entra = properties["identityProviders"]!["azureActiveDirectory"]!;
        Assert.True(entra["enabled"]!.GetValue<bool>());
        Assert.Contains("parameters('clientId')", entra["registration"]!["clientId"]!.ToString(), StringComparison.Ordinal);
        // The issuer comes from the cloud's login endpoint and the tenant, never a hard-coded URL; no client secret (bearer tokens only).
        Assert.Contains("environment().authentication.loginEndpoint", entra["registration"]!["openIdIssuer"]!.ToString(), StringComparison.Ordinal);
        Assert.Null(entra["registration"]!["clientSecretSettingName"]);
        Assert.Contains("api://", entra["validation"]!["allowedAudiences"]!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Authentication_is_deployed_when_an_app_registration_is_given()
    {
        var module = Assert.Single(ArmTemplate.ModulesDeploying(compiled.Template, "Microsoft.Web/sites/config"));
        Assert.Contains("parameters('authClientId')", (string?)module["condition"], StringComparison.Ordinal);
        Assert.Equal(string.Empty, (string?)compiled.Template["parameters"]!["authClientId"]!["defaultValue"]);
    }

    [Fact]
    public void The_app_registration_defines_the_role_the_code_requires()
    {
        var roles = JsonNode.Parse(File.ReadAllText(Repo.Path("infra-bicep", "entra-app-roles.json")))!.AsArray();
        var approver = Assert.Single(roles, r => (string?)r!["value"] == OperatorRoles.Approver)!;
        Assert.True(approver["isEnabled"]!.GetValue<bool>());
        Assert.Contains("User", approver["allowedMemberTypes"]!.AsArray().Select(m => (string?)m));
    }
}
