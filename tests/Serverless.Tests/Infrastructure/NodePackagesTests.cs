using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Infrastructure;

/// <summary>
/// The npm packages the scripts install run on the Node the README names (Node 20), so `npm ci`
/// prints no EBADENGINE warnings a newcomer would read as a failure (issue 10, item 11).
/// </summary>
public sealed partial class NodePackagesTests
{
    private const int ReadmeNodeMajor = 20;

    [Fact]
    public void Every_pinned_package_declares_the_node_the_readme_names_and_the_lock_file_agrees()
    {
        var manifest = JsonNode.Parse(File.ReadAllText(Repo.Path("package.json")))!["devDependencies"]!.AsObject();
        var lockFile = JsonNode.Parse(File.ReadAllText(Repo.Path("package-lock.json")))!["packages"]!.AsObject();
        Assert.Contains($"Node {ReadmeNodeMajor}", File.ReadAllText(Repo.Path("README.md")), StringComparison.Ordinal);

        foreach (var (name, version) in manifest)
        {
            var locked = lockFile[$"node_modules/{name}"]!;
            Assert.Equal(version!.GetValue<string>(), locked["version"]!.GetValue<string>());
            var engines = (string?)locked["engines"]?["node"];
            Assert.True(engines is null || Accepts(engines, ReadmeNodeMajor), $"{name}@{version} declares node {engines}, not Node {ReadmeNodeMajor}");
        }
    }

    /// <summary>Whether a ">=X[.Y.Z]" (or "^X" / "X.x") engines range accepts Node <paramref name="major"/>.</summary>
    private static bool Accepts(string range, int major)
    {
        var match = MinimumMajor().Match(range);
        Assert.True(match.Success, $"engines range '{range}' is not one this test reads");
        return int.Parse(match.Groups["major"].Value, System.Globalization.CultureInfo.InvariantCulture) <= major;
    }

    [GeneratedRegex(@"^\s*(>=|\^)?\s*(?<major>\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex MinimumMajor();
}
