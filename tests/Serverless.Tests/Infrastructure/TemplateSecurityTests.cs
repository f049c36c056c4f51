using System.Text.Json.Nodes;

namespace Serverless.Tests.Infrastructure;

/// <summary>What the compiled template promises about hosting, identity and data-plane access.</summary>
[Collection(BicepCollection.Name)]
public sealed class TemplateSecurityTests(CompiledTemplateFixture compiled)
{
    private const string RoleAssignmentType = "Microsoft.Authorization/roleAssignments";

    private static readonly string[] AppIdentityRoles =
    [
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", // Storage Blob Data Owner
        "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3", // Storage Table Data Contributor
        "974c5e8b-45b9-4653-ba55-5f855dd0fb88", // Storage Queue Data Contributor
        "2b629674-e913-4c01-ae53-ef4638d8f975", // Azure Event Hubs Data Sender
        "a638d3c7-ab3a-418d-83e6-5f17a39d4fde", // Azure Event Hubs Data Receiver
        "3913510d-42f4-4e42-8a64-420c390055eb", // Monitoring Metrics Publisher
    ];

    private static readonly string[] RoleParameters =
        ["storageRoleIds", "eventHubsRoleIds", "applicationInsightsRoleIds"];

    private JsonObject Single(string type) => ArmTemplate.DeployedResources(compiled.Template, type).Single();

    [Fact]
    public void Storage_account_allows_neither_shared_keys_nor_public_blobs()
    {
        var properties = Single("Microsoft.Storage/storageAccounts")["properties"]!;

        Assert.False(properties["allowSharedKeyAccess"]!.GetValue<bool>());
        Assert.False(properties["allowBlobPublicAccess"]!.GetValue<bool>());
        Assert.True(properties["supportsHttpsTrafficOnly"]!.GetValue<bool>());
        Assert.Equal("TLS1_2", properties["minimumTlsVersion"]!.GetValue<string>());
    }

    [Fact]
    public void Storage_account_has_blob_table_and_queue_services_and_a_deployment_container()
    {
        Assert.Single(ArmTemplate.DeployedResources(compiled.Template, "Microsoft.Storage/storageAccounts/blobServices"));
        Assert.Single(ArmTemplate.DeployedResources(compiled.Template, "Microsoft.Storage/storageAccounts/tableServices"));
        Assert.Single(ArmTemplate.DeployedResources(compiled.Template, "Microsoft.Storage/storageAccounts/queueServices"));
        Assert.Single(ArmTemplate.DeployedResources(compiled.Template, "Microsoft.Storage/storageAccounts/blobServices/containers"));
    }

    [Fact]
    public void Monitoring_disables_local_auth()
    {
        Assert.True(Single("Microsoft.Insights/components")["properties"]!["DisableLocalAuth"]!.GetValue<bool>());
        Assert.True(Single("Microsoft.OperationalInsights/workspaces")["properties"]!["features"]!["disableLocalAuth"]!.GetValue<bool>());
    }

    [Fact]
    public void Function_app_runs_dotnet_isolated_10_on_flex_consumption_as_the_user_assigned_identity()
    {
        var plan = Single("Microsoft.Web/serverfarms");
        var site = Single("Microsoft.Web/sites");
        var config = site["properties"]!["functionAppConfig"]!;

        Assert.Equal("FC1", plan["sku"]!["name"]!.GetValue<string>());
        Assert.Equal("FlexConsumption", plan["sku"]!["tier"]!.GetValue<string>());
        Assert.Equal("UserAssigned", site["identity"]!["type"]!.GetValue<string>());
        Assert.True(site["properties"]!["httpsOnly"]!.GetValue<bool>());
        Assert.Equal("UserAssignedIdentity", config["deployment"]!["storage"]!["authentication"]!["type"]!.GetValue<string>());
        Assert.NotNull(config["scaleAndConcurrency"]!["instanceMemoryMB"]);
        Assert.NotNull(config["scaleAndConcurrency"]!["alwaysReady"]);

        var module = ArmTemplate.ModulesDeploying(compiled.Template, "Microsoft.Web/sites").Single();
        Assert.Equal("dotnet-isolated", ArmTemplate.ModuleParameter(compiled.Template, module, "runtimeName")!.GetValue<string>());
        Assert.Equal("10.0", ArmTemplate.ModuleParameter(compiled.Template, module, "runtimeVersion")!.GetValue<string>());
    }

    [Fact]
    public void Function_app_basic_publishing_credentials_are_disabled()
    {
        var policies = ArmTemplate
            .DeployedResources(compiled.Template, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
            .ToList();

        Assert.Equal(2, policies.Count);
        Assert.All(policies, p => Assert.False(p["properties"]!["allow"]!.GetValue<bool>()));
    }

    [Fact]
    public void Role_assignments_are_named_by_scope_principal_and_role()
    {
        var assignments = ArmTemplate.DeployedResources(compiled.Template, RoleAssignmentType).ToList();

        Assert.NotEmpty(assignments);
        Assert.All(assignments, a =>
        {
            var name = a["name"]!.GetValue<string>();
            Assert.StartsWith("[guid(", name, StringComparison.Ordinal);
            Assert.Contains("parameters('principalId')", name, StringComparison.Ordinal);
            Assert.Contains("Microsoft.Authorization/roleDefinitions", name, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void The_app_identity_gets_every_data_plane_role_it_needs()
    {
        var module = RoleModules().Single(m => !IsConditional(m));

        var assigned = RoleParameters
            .SelectMany(p => ArmTemplate.ModuleParameter(compiled.Template, module, p)?.AsArray() ?? [])
            .Select(role => ArmTemplate.Resolve(compiled.Template, role)!.GetValue<string>())
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

        Assert.All(AppIdentityRoles, role => Assert.Contains(role, assigned));
        Assert.Contains("outputs.principalId", module["properties"]!["parameters"]!["principalId"]!["value"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public void Deployer_roles_are_created_only_when_a_deployer_principal_is_given()
    {
        var deployer = RoleModules().Single(IsConditional);
        var defaultId = compiled.Template["parameters"]!["deployerPrincipalId"]!["defaultValue"]!.GetValue<string>();

        Assert.Equal("", defaultId);
        Assert.Equal("[not(empty(parameters('deployerPrincipalId')))]", deployer["condition"]!.GetValue<string>());
        Assert.Equal("[parameters('deployerPrincipalId')]", deployer["properties"]!["parameters"]!["principalId"]!["value"]!.GetValue<string>());
    }

    private List<JsonObject> RoleModules() => ArmTemplate.ModulesDeploying(compiled.Template, RoleAssignmentType).ToList();

    private static bool IsConditional(JsonObject module) => module["condition"] is not null;
}
