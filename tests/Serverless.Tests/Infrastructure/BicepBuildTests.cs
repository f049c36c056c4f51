using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Serverless.Tests.Infrastructure;

[Collection(BicepCollection.Name)]
public sealed partial class BicepBuildTests(CompiledTemplateFixture compiled)
{
    private static readonly JsonDocumentOptions JsonWithComments = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    [Fact]
    public void Main_bicep_builds_with_no_warnings_or_errors()
    {
        Assert.True(compiled.Build.ExitCode == 0, compiled.Build.StandardError);
        Assert.Empty(compiled.Build.WarningsAndErrors);
        Assert.NotEmpty(ArmTemplate.DeployedResources(compiled.Template));
    }

    [Fact]
    public async Task Main_bicep_lints_with_no_warnings_or_errors()
    {
        var lint = await BicepCli.RunAsync("lint", RepositoryPaths.MainBicep);

        Assert.Empty(lint.WarningsAndErrors);
        Assert.True(lint.ExitCode == 0, lint.StandardError);
    }

    [Fact]
    public async Task Parameters_file_builds_and_lints_with_no_warnings_or_errors()
    {
        var build = await BicepCli.RunAsync("build-params", RepositoryPaths.MainBicepParam, "--stdout");
        var lint = await BicepCli.RunAsync("lint", RepositoryPaths.MainBicepParam);

        Assert.True(build.ExitCode == 0, build.StandardError);
        Assert.Empty(build.WarningsAndErrors);
        Assert.True(lint.ExitCode == 0, lint.StandardError);
        Assert.Empty(lint.WarningsAndErrors);
    }

    [Fact]
    public void Bicepconfig_keeps_every_linter_rule_at_warning_or_error()
    {
        var config = JsonNode.Parse(File.ReadAllText(RepositoryPaths.BicepConfig), documentOptions: JsonWithComments)!;
        var core = config["analyzers"]!["core"]!;
        var rules = core["rules"]!.AsObject();

        Assert.True(core["enabled"]?.GetValue<bool>() ?? true, "the core analyzer must be enabled");
        Assert.True(rules.Count >= 30, $"expected every core rule to be listed, found {rules.Count}");
        var weak = rules
            .Where(r => r.Value?["level"]?.GetValue<string>() is not ("warning" or "error"))
            .Select(r => $"{r.Key}: {r.Value?["level"]}")
            .ToList();
        Assert.Empty(weak);
    }

    [Fact]
    public void Bicep_files_use_local_modules_only()
    {
        var registryModules = Directory
            .EnumerateFiles(RepositoryPaths.InfraBicep, "*.bicep*", SearchOption.AllDirectories)
            .SelectMany(file => File.ReadLines(file).Select(line => (file, line)))
            .Where(x => RegistryReference().IsMatch(x.line))
            .Select(x => $"{Path.GetFileName(x.file)}: {x.line.Trim()}")
            .ToList();

        Assert.Empty(registryModules);
    }

    [GeneratedRegex(@"^\s*(module|using|import)\b.*'(br|ts)[:/]", RegexOptions.CultureInvariant)]
    private static partial Regex RegistryReference();
}
