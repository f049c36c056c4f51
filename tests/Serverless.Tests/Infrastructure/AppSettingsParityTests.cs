using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Serverless.Hosting;

namespace Serverless.Tests.Infrastructure;

/// <summary>
/// The settings catalog (AppSettings.All), the compiled Bicep app settings and
/// functions/local.settings.template.json must agree, and none of them may carry a secret.
/// </summary>
[Collection(BicepCollection.Name)]
public sealed partial class AppSettingsParityTests(CompiledTemplateFixture compiled)
{
    private const string AppInsightsConnectionString = "APPLICATIONINSIGHTS_CONNECTION_STRING";

    /// <summary>Settings the platform reads rather than the app: allowed beyond the catalog.</summary>
    private static readonly string[] PlatformPrefixes =
        ["AzureWebJobsStorage__", "FUNCTIONS_", "APPLICATIONINSIGHTS_", "WEBSITE_"];

    private IReadOnlyDictionary<string, string> BicepSettings => ArmTemplate.FunctionAppSettings(compiled.Template);

    private static Dictionary<string, string> TemplateSettings()
    {
        var values = JsonNode.Parse(File.ReadAllText(RepositoryPaths.LocalSettingsTemplate))!["Values"]!.AsObject();
        return values.ToDictionary(p => p.Key, p => p.Value?.GetValue<string>() ?? "", StringComparer.Ordinal);
    }

    private static bool IsPlatformSetting(string name) =>
        name == "AzureWebJobsStorage" || PlatformPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal));

    private static IEnumerable<string> AzureKeys(AppSetting setting) =>
        setting.Kind == SettingKind.Connection ? setting.AzureKeys : [setting.Name];

    [Fact]
    public void Catalog_is_not_empty_and_connections_declare_azure_keys()
    {
        Assert.NotEmpty(AppSettings.All);
        Assert.All(
            AppSettings.All.Where(s => s.Kind == SettingKind.Connection),
            s => Assert.Contains($"{s.Name}__credential", s.AzureKeys));
    }

    [Fact]
    public void Every_catalog_setting_is_in_the_bicep_app_settings()
    {
        var settings = BicepSettings;
        var missing = AppSettings.All.SelectMany(AzureKeys).Where(key => !settings.ContainsKey(key)).ToList();

        Assert.Empty(missing);
    }

    [Fact]
    public void Every_bicep_app_setting_is_in_the_catalog_or_a_platform_setting()
    {
        var known = AppSettings.All.SelectMany(AzureKeys).ToHashSet(StringComparer.Ordinal);
        var unknown = BicepSettings.Keys.Where(key => !known.Contains(key) && !IsPlatformSetting(key)).ToList();

        Assert.Empty(unknown);
    }

    [Fact]
    public void Every_catalog_setting_is_in_the_local_settings_template()
    {
        var settings = TemplateSettings();
        var missing = AppSettings.All.Select(s => s.Name).Where(name => !settings.ContainsKey(name)).ToList();

        Assert.Empty(missing);
    }

    [Fact]
    public void Every_local_settings_template_value_is_in_the_catalog_or_a_platform_setting()
    {
        var known = AppSettings.All.Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var unknown = TemplateSettings().Keys.Where(key => !known.Contains(key) && !IsPlatformSetting(key)).ToList();

        Assert.Empty(unknown);
    }

    [Fact]
    public void Local_settings_template_declares_the_worker_runtime_and_host_storage()
    {
        var settings = TemplateSettings();

        Assert.Equal("dotnet-isolated", settings["FUNCTIONS_WORKER_RUNTIME"]);
        Assert.Equal("UseDevelopmentStorage=true", settings["AzureWebJobsStorage"]);
    }

    [Fact]
    public void Plain_settings_in_the_template_equal_the_bicep_defaults()
    {
        var bicep = BicepSettings;
        var template = TemplateSettings();
        var mismatches = AppSettings.All
            .Where(s => s.Kind == SettingKind.Plain)
            .Select(s => (s.Name, Bicep: ArmTemplate.DefaultText(compiled.Template, bicep[s.Name]), Local: template[s.Name]))
            .Where(x => x.Bicep != x.Local)
            .Select(x => $"{x.Name}: bicep default '{x.Bicep ?? "(not a parameter default)"}', template '{x.Local}'")
            .ToList();

        Assert.Empty(mismatches);
    }

    [Fact]
    public void Secret_settings_come_from_secure_parameters_generated_when_not_given_never_the_development_value()
    {
        var bicep = BicepSettings;
        var template = TemplateSettings();
        var secrets = AppSettings.All.Where(s => s.Kind == SettingKind.Secret).ToList();

        Assert.NotEmpty(secrets);
        Assert.All(secrets, s =>
        {
            var name = Assert.Single(ParameterReference().Matches(bicep[s.Name])).Groups["name"].Value;
            var parameter = compiled.Template["parameters"]![name]!;
            Assert.Equal("securestring", parameter["type"]!.GetValue<string>());
            Assert.Equal("[newGuid()]", parameter["defaultValue"]!.GetValue<string>());
            Assert.DoesNotContain(template[s.Name], compiled.Json, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void Bicep_connections_use_the_managed_identity()
    {
        var settings = BicepSettings;
        var prefixes = AppSettings.All
            .Where(s => s.Kind == SettingKind.Connection)
            .Select(s => s.Name)
            .Append("AzureWebJobsStorage");

        Assert.All(prefixes, prefix =>
        {
            Assert.Equal("managedidentity", settings[$"{prefix}__credential"]);
            Assert.Matches(IdentityClientId(), settings[$"{prefix}__clientId"]);
        });
    }

    [Fact]
    public void Application_insights_authenticates_with_the_managed_identity()
    {
        var settings = BicepSettings;

        Assert.Matches(AadAuthenticationString(), settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]);
        Assert.Matches(ConnectionStringReference(), settings[AppInsightsConnectionString]);
    }

    [Fact]
    public void No_bicep_app_setting_looks_like_a_secret()
    {
        var suspicious = BicepSettings
            .Where(s => SecretLike().IsMatch(s.Value))
            .Select(s => $"{s.Key}={s.Value}")
            .ToList();

        Assert.Empty(suspicious);
    }

    [Fact]
    public void No_local_settings_template_value_looks_like_a_secret()
    {
        var suspicious = TemplateSettings()
            .Where(s => SecretLike().IsMatch(s.Value) && s.Key != AppInsightsConnectionString)
            .Select(s => $"{s.Key}={s.Value}")
            .ToList();

        Assert.Empty(suspicious);
    }

    [Fact]
    public void Compiled_template_never_reads_keys_or_connection_strings()
    {
        Assert.DoesNotMatch(KeyReadingFunction(), compiled.Json);
        Assert.DoesNotMatch(SecretLike(), compiled.Json);
    }

    // A literal key or SAS, or a function that reads one. InstrumentationKey= may only appear inside
    // the App Insights connection string, which the template takes from the component by reference.
    [GeneratedRegex(@"AccountKey=|SharedAccessKey|SharedAccessSignature|[?&]sig=|Password=|InstrumentationKey=", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SecretLike();

    [GeneratedRegex(@"\blist(Keys|ConnectionStrings|AccountSas|ServiceSas|Secrets|Credentials?|AuthKeys)\(", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex KeyReadingFunction();

    [GeneratedRegex(@"^\[parameters\('(?<name>[A-Za-z0-9]+)'\)\]$", RegexOptions.CultureInvariant)]
    private static partial Regex ParameterReference();

    [GeneratedRegex(@"^\[.*outputs\.clientId\.value.*\]$", RegexOptions.CultureInvariant)]
    private static partial Regex IdentityClientId();

    [GeneratedRegex(@"^\[format\('ClientId=\{0\};Authorization=AAD', .*outputs\.clientId\.value\)\]$", RegexOptions.CultureInvariant)]
    private static partial Regex AadAuthenticationString();

    [GeneratedRegex(@"^\[reference\([^)]*\)\.outputs\.connectionString\.value\]$", RegexOptions.CultureInvariant)]
    private static partial Regex ConnectionStringReference();
}
