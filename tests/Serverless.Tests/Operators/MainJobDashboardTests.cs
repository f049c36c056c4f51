using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Serverless.Features;
using Serverless.Tests.Fixtures;
using static Microsoft.Playwright.Assertions;

namespace Serverless.Tests.Operators;

/// <summary>
/// The main job as the README runs it (scripts/run.sh: full MovieLens, the development identity), to the
/// point where it prints the dashboard's address with a challenger waiting at the approval gate. When it
/// does not get there (it crashed, it timed out, the Sentinel refused the challenger, no challenger was
/// trained), <see cref="Problem"/> says why with the challenger's Sentinel report and the last 50 lines
/// of its output. Disposing kills the job's process tree (the host and its Azurite).
/// </summary>
public sealed partial class MainJobFixture : IAsyncLifetime
{
    /// <summary>How long the main job may take to print the dashboard's address (about 70-90 s on a quiet 2-core machine; CI shares its cores).</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromMinutes(20);

    public MainJobProcess Job { get; private set; } = null!;

    /// <summary>The address the job printed ("Operator dashboard: ...").</summary>
    public Uri Dashboard { get; private set; } = null!;

    /// <summary>The challenger the job trained on the logged features, and its pipeline, waiting for a person.</summary>
    public string Challenger { get; private set; } = null!;

    public string Pipeline { get; private set; } = null!;

    /// <summary>Null when the job reached the gate; else what went wrong, for the test's failure message.</summary>
    public string? Problem { get; private set; }

    /// <summary>The job's API (http://127.0.0.1:port/).</summary>
    public HttpClient Http { get; private set; } = null!;

    public IPlaywright Playwright { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        // The browser first: a missing chromium fails at once, not after the whole main job.
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await DashboardBrowser.LaunchAsync(Playwright);
        Job = MainJobProcess.Start();
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Job.Port}/"), Timeout = TimeSpan.FromMinutes(2) };
        try
        {
            Problem = await ReachTheGateAsync();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or InvalidOperationException or System.Text.Json.JsonException)
        {
            Problem = $"checking the main job failed: {e}\n{Output()}";
        }
    }

    private async Task<string?> ReachTheGateAsync()
    {
        var printed = await Job.WaitForAsync(Patience, DashboardLine());
        if (printed is null)
        {
            return Job.HasExited
                ? $"the main job ended before it printed the dashboard's address\n{Output()}"
                : $"the main job did not print the dashboard's address within {Patience}\n{Output()}";
        }

        Dashboard = new Uri(printed.Groups["url"].Value);
        var lines = Job.Lines;
        if (!lines.Any(l => l.Contains("Replayed and archived", StringComparison.Ordinal)))
        {
            return $"the main job printed the dashboard's address without \"Replayed and archived\"\n{Output()}";
        }

        if (lines.Select(l => ChallengerEndedLine().Match(l)).FirstOrDefault(m => m.Success) is { } ended)
        {
            return $"the challenger's pipeline {ended.Groups["pipeline"].Value} did not wait for approval:\n{await PipelineReportAsync(ended.Groups["pipeline"].Value)}\n{Output()}";
        }

        if (lines.Select(l => ChallengerLine().Match(l)).FirstOrDefault(m => m.Success) is not { } gate)
        {
            return $"the main job trained no challenger (no \"Challenger ... awaits approval\" line)\n{Output()}";
        }

        Challenger = gate.Groups["version"].Value;
        Pipeline = gate.Groups["pipeline"].Value;
        return null;
    }

    /// <summary>How the pipeline ended and its candidate's Sentinel report, check by check.</summary>
    private async Task<string> PipelineReportAsync(string pipeline)
    {
        var state = (await Http.GetFromJsonAsync<JsonObject>($"api/pipelines/train/{pipeline}"))!;
        var text = new StringBuilder($"pipeline {pipeline}: {state["status"]} {state["result"]?.ToJsonString()} {state["failure"]}\n");
        if ((string?)state["result"]?["version"] is { } version)
        {
            text.Append(SentinelReport(version, (await Http.GetFromJsonAsync<JsonObject>($"api/models/{Uri.EscapeDataString(version)}"))!["sentinel"]));
        }

        return text.ToString();
    }

    /// <summary>A Sentinel report as lines a person reads: each check's verdict, measured value, threshold and explanation.</summary>
    public static string SentinelReport(string version, JsonNode? sentinel) =>
        sentinel?["checks"] is JsonArray checks
            ? $"Sentinel report of {version}:\n" + string.Join('\n', checks.Select(c =>
                $"  {c!["name"]}: {((bool?)c["skipped"] == true ? "skipped" : (bool?)c["passed"] == true ? "passed" : "FAILED")} (measured {c["measured"]}, threshold {c["threshold"]}) {c["explanation"]}"))
            : $"no Sentinel report is stored for {version}";

    private string Output() => $"last 50 lines of `{Job.CommandLine}`:\n{Job.Tail(50)}";

    [GeneratedRegex(@"Operator dashboard: (?<url>http\S+)")]
    private static partial Regex DashboardLine();

    [GeneratedRegex(@"Challenger (?<version>\S+) trained on logged features .*; pipeline (?<pipeline>\S+) awaits approval")]
    private static partial Regex ChallengerLine();

    [GeneratedRegex(@"Challenger pipeline (?<pipeline>\S+) ended without waiting for approval")]
    private static partial Regex ChallengerEndedLine();

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        Playwright?.Dispose();
        Http?.Dispose();
        if (Job is not null)
        {
            await Job.DisposeAsync();
        }
    }
}

/// <summary>
/// The README's promise, automated: run the main command, open the printed dashboard address, read the
/// challenger's Sentinel report with its plots, approve it from the page and see it live. The main job
/// runs once (the whole MovieLens replay, training, precompute, rank traffic, a challenger on the
/// logged features at the approval gate), in the dashboard collection, after the parallel tests.
/// Screenshots: mainjob-challenger-report.png, mainjob-pipeline-at-the-gate.png, mainjob-challenger-live.png.
/// </summary>
[Collection(DashboardCollection.Name)]
public sealed partial class MainJobDashboardTests : IClassFixture<MainJobFixture>
{
    /// <summary>How long the page may take to show the published pipeline (publishing on two shared cores).</summary>
    private const float Patience = 300_000;

    private readonly MainJobFixture fixture;

    public MainJobDashboardTests(MainJobFixture fixture)
    {
        this.fixture = fixture;
        SetDefaultExpectTimeout(60_000);
    }

    [Fact]
    public async Task The_main_commands_challenger_is_read_approved_and_made_live_from_the_printed_dashboard_address()
    {
        Assert.True(fixture.Problem is null, fixture.Problem);
        var version = fixture.Challenger;
        var before = (await fixture.Http.GetFromJsonAsync<JsonObject>("api/models"))!;
        var replaced = (string?)before["live"];
        Assert.NotNull(replaced);
        Assert.NotEqual(version, replaced);
        var record = (await fixture.Http.GetFromJsonAsync<JsonObject>($"api/models/{version}"))!;
        var report = MainJobFixture.SentinelReport(version, record["sentinel"]);
        var checks = record["sentinel"]?["checks"]?.AsArray() ?? throw new Xunit.Sdk.XunitException(report);
        var plots = checks.ToDictionary(c => (string)c!["name"]!, c => c!["plot"], StringComparer.Ordinal);

        // The printed address, as a person pastes it; the Models section lists the challenger as a candidate.
        var (page, errors) = await DashboardBrowser.OpenAsync(fixture.Browser, fixture.Dashboard, null);
        var row = page.Locator($"tr[data-version='{version}']");
        await Expect(row).ToContainTextAsync("Candidate");

        // Its report: every check passed, or was skipped with the reason said.
        await DashboardBrowser.FollowAsync(page, row.GetByRole(AriaRole.Link, new() { Name = version }), $"model/{version}");
        await Expect(page.Locator("#sentinel-verdict")).ToContainTextAsync("every check passed");
        var rows = page.Locator("tr[data-check]");
        await Expect(rows).ToHaveCountAsync(checks.Count);
        Assert.Equal(0, await page.Locator("tr[data-check].failed").CountAsync());
        for (var i = 0; i < checks.Count; i++)
        {
            var cells = await rows.Nth(i).Locator("td").AllTextContentsAsync();
            var (name, verdict, why) = (cells[0], cells[1], cells[4]);
            Assert.True(verdict is "passed" or "skipped", $"{name}: {verdict}\n{report}");
            Assert.True(verdict == "passed" || why.Trim().Length > 0, $"{name} is skipped without a reason\n{report}");
        }

        // The three plots, populated from the report: a dot per reliability bin with impressions, a bar per
        // feature (named) with its limit, candidate and live per shadow metric with the difference's interval.
        var bins = Finite(plots["calibration"], "meanPredicted").Zip(Finite(plots["calibration"], "observedRate")).Count(p => p.First && p.Second);
        Assert.True(bins >= 2, $"the reliability curve has {bins} bins\n{report}");
        await Expect(page.Locator("#plot-reliability circle.dot")).ToHaveCountAsync(bins);
        await Expect(page.Locator("#plot-reliability polyline.curve")).ToHaveCountAsync(1);

        var features = (await fixture.Http.GetFromJsonAsync<JsonObject>("api/features"))!["names"]!.AsArray().Select(n => (string)n!).ToList();
        Assert.Equal(new FeatureEncoder(FeatureConfig.Default).Count, features.Count);
        Assert.Equal(features.Count, plots["feature-drift"]!["psi"]!.AsArray().Count);
        await Expect(page.Locator("#plot-psi rect")).ToHaveCountAsync(features.Count);
        await Expect(page.Locator("#plot-psi line.limit")).ToHaveCountAsync(features.Count);
        var psiText = await page.Locator("#plot-psi").TextContentAsync();
        Assert.All(features, f => Assert.Contains(f, psiText, StringComparison.Ordinal));

        var metrics = plots["shadow-accuracy"]!["candidate"]!.AsArray().Count;
        Assert.True(metrics >= 1, report);
        await Expect(page.Locator("#plot-shadow rect.candidate")).ToHaveCountAsync(metrics);
        await Expect(page.Locator("#plot-shadow rect.live")).ToHaveCountAsync(metrics);
        await Expect(page.Locator("#plot-shadow line.ci")).ToHaveCountAsync(metrics);
        foreach (var plot in new[] { "#plot-reliability", "#plot-psi", "#plot-shadow" })
        {
            Assert.DoesNotContain("NaN", await page.Locator(plot).TextContentAsync(), StringComparison.Ordinal);
        }

        await DashboardBrowser.ScreenshotAsync(page, "mainjob-challenger-report.png");

        // Pipelines: the challenger waits for a person, the deadline counting down (the main job gives three days).
        await DashboardBrowser.FollowAsync(page, page.Locator("nav a[data-section='pipelines']"), "pipelines");
        var pipeline = page.Locator($"div.pipeline[data-pipeline='{fixture.Pipeline}']");
        await Expect(pipeline).ToContainTextAsync(version);
        await Expect(pipeline.Locator(".countdown")).ToHaveTextAsync(Countdown());
        await DashboardBrowser.ScreenshotAsync(page, "mainjob-pipeline-at-the-gate.png");

        // Approve as the development identity run.sh signs in; the pipeline publishes.
        var approver = MainJobProcess.ReadRunScript().Environment["LocalHost__DevelopmentIdentity__Name"];
        await pipeline.Locator("button.approve").ClickAsync();
        await Expect(pipeline.Locator(".message.ok").First).ToContainTextAsync($"202: approval of {version} recorded for {approver}");
        await Expect(pipeline.Locator(".message").Last).ToContainTextAsync($"Pipeline {fixture.Pipeline} ended: Published {version} (approved by {approver})", new() { Timeout = Patience });

        // Models: the challenger is live, the model it replaced is previous; the API says the same.
        await DashboardBrowser.FollowAsync(page, page.Locator("nav a[data-section='models']"), "models");
        await Expect(page.Locator("#live-version")).ToHaveTextAsync(version);
        await Expect(page.Locator($"tr[data-version='{version}']")).ToContainTextAsync("Live");
        await DashboardBrowser.ScreenshotAsync(page, "mainjob-challenger-live.png");
        var after = (await fixture.Http.GetFromJsonAsync<JsonObject>("api/models"))!;
        Assert.Equal((version, replaced), ((string?)after["live"], (string?)after["previous"]));
        var listed = after["versions"]!.AsArray().Single(v => (string?)v!["version"] == version)!;
        Assert.Equal(("Live", true), ((string?)listed["status"], (bool)listed["isLive"]!));
        Assert.Empty(errors);

        // The job's processes end with it: no host or Azurite outlives the test.
        Assert.Empty(await fixture.Job.StopAsync());
    }

    private static IEnumerable<bool> Finite(JsonNode? plot, string series) =>
        plot?[series] is JsonArray values ? values.Select(v => v is JsonValue value && value.TryGetValue<double>(out var d) && double.IsFinite(d)) : [];

    [GeneratedRegex(@"^(\d+d )?\d\d:\d\d:\d\d left$")]
    private static partial Regex Countdown();
}
