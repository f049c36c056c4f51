using System.Text.Json.Nodes;
using Serverless.Functions.Operators;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.Operators;

/// <summary>The dashboard's functions as the Functions host sees them (functions.metadata), and the files it serves.</summary>
public sealed class DashboardContractTests
{
    private static JsonObject HttpTrigger(string function)
    {
        var path = new[] { Path.Combine(Path.GetDirectoryName(typeof(DashboardFunctions).Assembly.Location)!, "functions.metadata") }
            .Concat(Directory.EnumerateFiles(Repo.Path("functions", "bin"), "functions.metadata", SearchOption.AllDirectories).OrderByDescending(File.GetLastWriteTimeUtc))
            .First(File.Exists);
        var entry = JsonNode.Parse(File.ReadAllText(path))!.AsArray().Select(f => f!.AsObject()).Single(f => (string?)f["name"] == function);
        return entry["bindings"]!.AsArray().Select(b => b!.AsObject()).Single(b => (string?)b["type"] == "httpTrigger");
    }

    [Theory]
    [InlineData("dashboard", "dashboard/{*path}", "Anonymous")]
    [InlineData("pipelines-list", "pipelines", "Function")]
    [InlineData("features", "features", "Function")]
    public void The_dashboard_functions_are_GET_routes_in_the_metadata(string function, string route, string authLevel)
    {
        var trigger = HttpTrigger(function);
        Assert.Equal(route, (string?)trigger["route"]);
        Assert.Equal(["get"], trigger["methods"]!.AsArray().Select(m => (string?)m));
        Assert.Equal(authLevel, (string?)trigger["authLevel"]);
    }

    [Fact]
    public void The_page_its_script_and_its_styles_are_embedded_and_name_nothing_outside_the_app()
    {
        var assets = new Serverless.Operators.StaticAssets(typeof(DashboardFunctions).Assembly, DashboardFunctions.ResourcePrefix);
        Assert.Equal(["app.css", "app.js", "index.html"], assets.Paths.Order(StringComparer.Ordinal));
        Assert.Equal("text/html; charset=utf-8", assets.Find(null)!.ContentType);
        Assert.Null(assets.Find("../index.html"));
        foreach (var path in assets.Paths)
        {
            var text = System.Text.Encoding.UTF8.GetString(assets.Find(path)!.Content);
            // The only absolute URL allowed is the SVG namespace, which is a name, not a request.
            Assert.DoesNotContain("https://", text, StringComparison.Ordinal);
            Assert.DoesNotContain("//cdn", text, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(0, text.Replace("http://www.w3.org/2000/svg", "", StringComparison.Ordinal).Split("http://").Length - 1);
        }
    }
}
