using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Serverless.Access;
using Serverless.Features;
using Serverless.Models;
using Serverless.Requests;
using Serverless.Tests.EndToEnd;
using Serverless.Tests.Fixtures;
using Serverless.Workflows.TrainPipeline;
using static Microsoft.Playwright.Assertions;

namespace Serverless.Tests.Operators;

/// <summary>
/// The operator dashboard in a real browser (Debian's chromium through Playwright) against the
/// local host: what an operator sees and does. Screenshots of the run go to .run/screenshots/ (DASHBOARD_SCREENSHOTS=docs/screenshots refreshes the checked-in ones).
/// </summary>
[Collection(DashboardCollection.Name)]
public sealed class DashboardTests : IClassFixture<DashboardFixture>
{
    /// <summary>How long a page may take to show what a pipeline did (training on two shared cores).</summary>
    private const float Patience = 300_000;

    private readonly DashboardFixture fixture;

    public DashboardTests(DashboardFixture fixture)
    {
        this.fixture = fixture;
        SetDefaultExpectTimeout(60_000);
    }

    private const string ReaderName = "Rita Reader";

    /// <summary>A signed-in person without the Approver role.</summary>
    private static readonly string Reader = new ClientPrincipal("aad", ReaderName, "aaaaaaaa-0000-0000-0000-000000000001", ["Viewer"]).Encode();

    private HttpClient Http => fixture.Host.Http;

    [Fact]
    public async Task The_dashboard_is_served_by_the_app_with_its_own_files_and_nothing_else()
    {
        using var noRedirect = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = Http.BaseAddress };
        var bare = await noRedirect.GetAsync("api/dashboard");
        Assert.Equal(HttpStatusCode.Redirect, bare.StatusCode);
        Assert.Equal("/api/dashboard/", bare.Headers.Location?.OriginalString);

        var page = await Http.GetAsync("api/dashboard/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        var html = await page.Content.ReadAsStringAsync();
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        Assert.Equal("text/javascript", (await Http.GetAsync("api/dashboard/app.js")).Content.Headers.ContentType?.MediaType);
        Assert.Equal("text/css", (await Http.GetAsync("api/dashboard/app.css")).Content.Headers.ContentType?.MediaType);

        foreach (var path in new[] { "api/dashboard/nope.js", "api/dashboard/..%2F..%2Fhost.json", "api/dashboard/Serverless.Functions.dll", "api/dashboard/a/b" })
        {
            var missing = await Http.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        }
    }

    [Theory]
    [InlineData("status=nope")]
    [InlineData("status=Running")]
    [InlineData("status=running&status=failed")]
    [InlineData("limit=0")]
    [InlineData("limit=501")]
    [InlineData("limit=ten")]
    public async Task Listing_pipelines_refuses_an_unknown_status_or_limit_with_a_problem(string query)
    {
        var response = await Http.GetAsync($"api/pipelines?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(query.StartsWith("limit", StringComparison.Ordinal) ? "limit must be" : "status must be one of", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Approving_a_waiting_pipeline_from_the_page_makes_its_candidate_live_and_rollback_undoes_it()
    {
        var (id, version) = await StartPipelineAtTheGateAsync();
        var listed = (await Http.GetFromJsonAsync<JsonObject>("api/pipelines?status=awaiting-approval"))!["pipelines"]!.AsArray();
        var entry = listed.Single(p => (string?)p!["id"] == id)!;
        Assert.Equal(version, (string?)entry["version"]);
        Assert.NotNull((string?)entry["approvalDeadline"]);

        var (page, errors) = await OpenAsync(fixture.Host, "pipelines");

        // Nothing to type: the page decides as the signed-in person, and names them once the app has.
        Assert.Equal(0, await page.Locator("input#operator").CountAsync());
        await Expect(page.Locator("#operator")).ToHaveTextAsync("the signed-in person");
        var pipeline = page.Locator($"div.pipeline[data-pipeline='{id}']");
        await Expect(pipeline.Locator(".countdown")).ToContainTextAsync("left");
        await Expect(pipeline).ToContainTextAsync(version);
        await ScreenshotAsync(page, "pipelines-awaiting-approval.png");

        await pipeline.Locator("button.approve").ClickAsync();
        await Expect(pipeline.Locator(".message.ok").First).ToContainTextAsync($"202: approval of {version} recorded for {DashboardFixture.OperatorName}");
        await Expect(page.Locator("#operator")).ToHaveTextAsync(DashboardFixture.OperatorName);
        await Expect(pipeline.Locator(".message.ok").Last).ToContainTextAsync("Published", new() { Timeout = Patience });
        await NavigateAsync(page, "models");
        await Expect(page.Locator("#live-version")).ToHaveTextAsync(version);
        await Expect(page.Locator($"tr[data-version='{version}']")).ToContainTextAsync("Live");
        await ScreenshotAsync(page, "models-after-approval.png");

        var registry = fixture.Host.App.Services.GetRequiredService<ModelRegistry>();
        Assert.Equal(version, (await registry.GetLiveAsync())!.Version);
        Assert.Contains((await registry.GetStatusHistoryAsync(version)), c => c.Status == ModelStatus.Approved && c.By == DashboardFixture.OperatorName && c.ByObjectId == DashboardFixture.OperatorObjectId);
        var completed = (await Http.GetFromJsonAsync<JsonObject>("api/pipelines?status=completed"))!["pipelines"]!.AsArray();
        Assert.Equal("Published", (string?)completed.Single(p => (string?)p!["id"] == id)!["outcome"]);

        // Rolling back from the page: the version it replaced is live again.
        var previous = (await registry.GetLiveAsync())!.Previous!;
        await page.FillAsync("#rollback-reason", "checking the rollback button");
        await page.ClickAsync("#rollback");
        await Expect(page.Locator("#notice")).ToContainTextAsync($"Rolled back: {previous} is live again (rolled back by {DashboardFixture.OperatorName}: checking the rollback button;");
        await Expect(page.Locator("#live-version")).ToHaveTextAsync(previous);
        Assert.Equal(previous, (await registry.GetLiveAsync())!.Version);
        Assert.Contains((await registry.GetStatusHistoryAsync(previous)), c => c.Status == ModelStatus.Live && c.By == DashboardFixture.OperatorName
            && c.Reason?.Contains($"rolled back by {DashboardFixture.OperatorName}: checking the rollback button", StringComparison.Ordinal) == true);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task A_double_click_on_approve_records_one_decision_and_shows_the_409()
    {
        var (id, version) = await StartPipelineAtTheGateAsync();
        var registry = fixture.Host.App.Services.GetRequiredService<ModelRegistry>();

        // A signed-in person without the Approver role gets the 403 on the page, and nothing is decided.
        var (readerPage, readerErrors) = await OpenAsync(fixture.Host, "pipelines", Reader);
        var readers = readerPage.Locator($"div.pipeline[data-pipeline='{id}']");
        await readers.Locator("button.approve").ClickAsync();
        await Expect(readers.Locator(".message.error")).ToContainTextAsync("403");
        await Expect(readers.Locator(".message.error")).ToContainTextAsync($"{ReaderName} does not hold the app role 'Approver'");
        await Expect(readerPage.Locator("#operator")).ToHaveTextAsync("the signed-in person");
        Assert.All(readerErrors, e => Assert.Contains("403", e, StringComparison.Ordinal));
        var waiting = (await Http.GetFromJsonAsync<JsonObject>("api/pipelines?status=awaiting-approval"))!["pipelines"]!.AsArray();
        Assert.Contains(waiting, p => (string?)p!["id"] == id);
        Assert.DoesNotContain(await registry.GetStatusHistoryAsync(version), c => c.Status is ModelStatus.Approved or ModelStatus.Rejected);

        var (page, errors) = await OpenAsync(fixture.Host, "pipelines");
        var pipeline = page.Locator($"div.pipeline[data-pipeline='{id}']");
        await pipeline.Locator("button.approve").DblClickAsync();

        await Expect(pipeline.Locator(".message.error")).ToContainTextAsync("409");
        await Expect(pipeline.Locator(".message.ok").First).ToContainTextAsync("202");
        await Expect(pipeline.Locator(".message.ok").Last).ToContainTextAsync("Published", new() { Timeout = Patience });
        await ScreenshotAsync(page, "pipelines-double-click-409.png");
        Assert.Equal(1, await pipeline.Locator(".message.error").CountAsync());
        Assert.Equal(1, await pipeline.Locator(".message.ok", new() { HasTextString = "202" }).CountAsync());

        // The registry holds one decision, the development identity's approval: a further claim is refused naming them.
        var again = await Assert.ThrowsAsync<RequestRefusedException>(() => registry.ClaimDecisionAsync(id, new OperatorIdentity("Someone Else", "e1e1e1e1-0000-0000-0000-000000000000"), approve: false));
        Assert.Equal(409, again.Status);
        Assert.Contains($"already approved by {DashboardFixture.OperatorName}", again.Message, StringComparison.Ordinal);
        var history = await registry.GetStatusHistoryAsync(version);
        var approved = Assert.Single(history, c => c.Status == ModelStatus.Approved);
        Assert.Equal((DashboardFixture.OperatorName, DashboardFixture.OperatorObjectId), (approved.By, approved.ByObjectId));
        Assert.Single(history, c => c.Status == ModelStatus.Live);
        Assert.DoesNotContain(history, c => c.Status == ModelStatus.Rejected);

        // The one error the console shows is the browser's own line for the refused request.
        Assert.All(errors, e => Assert.Contains("409", e, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rejecting_a_waiting_pipeline_from_the_page_with_a_reason_records_the_reason_and_who_rejected()
    {
        const string Reason = "calibration drifts on new members";
        var (id, version) = await StartPipelineAtTheGateAsync();
        var registry = fixture.Host.App.Services.GetRequiredService<ModelRegistry>();
        var liveBefore = (await registry.GetLiveAsync())?.Version;

        var (page, errors) = await OpenAsync(fixture.Host, "pipelines");
        var pipeline = page.Locator($"div.pipeline[data-pipeline='{id}']");
        await pipeline.Locator("input[name='reason']").FillAsync(Reason);
        await pipeline.Locator("button.reject").ClickAsync();
        await Expect(pipeline.Locator(".message.ok").First).ToContainTextAsync($"202: rejection of {version} recorded for {DashboardFixture.OperatorName}");
        await Expect(page.Locator("#operator")).ToHaveTextAsync(DashboardFixture.OperatorName);
        await Expect(pipeline.Locator(".message").Last).ToContainTextAsync(
            $"Pipeline {id} ended: RejectedByApprover {version} (rejected by {DashboardFixture.OperatorName}: {Reason})", new() { Timeout = Patience });

        // Reloaded, the page lists it among the finished pipelines with its outcome and reason; its candidate's report
        // says Rejected, and its status history names the person the app signed in and the reason they typed.
        await page.ReloadAsync();
        await Expect(page.Locator("#main[data-loaded='pipelines']")).ToBeVisibleAsync();
        var finished = page.Locator($"tr[data-pipeline='{id}']");
        await Expect(finished).ToContainTextAsync("RejectedByApprover");
        await Expect(finished).ToContainTextAsync(Reason);
        await DashboardBrowser.FollowAsync(page, finished.GetByRole(AriaRole.Link, new() { Name = version }), $"model/{version}");
        await Expect(page.Locator("h2").First).ToContainTextAsync("Rejected");
        var history = page.Locator("section.card", new() { Has = page.GetByRole(AriaRole.Heading, new() { Name = "Status history" }) });
        var rejected = history.Locator("tbody tr", new() { Has = page.Locator("span.badge.Rejected") });
        await Expect(rejected).ToHaveCountAsync(1);
        await Expect(rejected).ToContainTextAsync(DashboardFixture.OperatorName);
        await Expect(rejected).ToContainTextAsync($"rejected by {DashboardFixture.OperatorName}: {Reason}");
        await ScreenshotAsync(page, "model-rejected-by-approver.png");

        // The registry agrees: one decision, the rejection, by the signed-in person (name and object id) with the reason; live did not move.
        var change = Assert.Single(await registry.GetStatusHistoryAsync(version), c => c.Status is ModelStatus.Rejected or ModelStatus.Approved);
        Assert.Equal((ModelStatus.Rejected, DashboardFixture.OperatorName, DashboardFixture.OperatorObjectId), (change.Status, change.By, change.ByObjectId));
        Assert.Contains(Reason, change.Reason, StringComparison.Ordinal);
        Assert.Equal(ModelStatus.Rejected, (await registry.GetAsync(version))!.Status);
        Assert.Equal(liveBefore, (await registry.GetLiveAsync())?.Version);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task A_rejected_candidates_report_shows_its_failing_check_and_the_plots()
    {
        var (page, errors) = await OpenAsync(fixture.Host, $"model/{fixture.Rejected}");
        var budget = page.Locator("tr[data-check='serving-budget']");
        await Expect(budget).ToHaveClassAsync("failed");
        await Expect(budget).ToContainTextAsync("failed");
        await Expect(page.Locator("#sentinel-verdict")).ToContainTextAsync("serving-budget");
        await Expect(page.Locator("h2")).ToContainTextAsync("Rejected");

        // The plots: the reliability curve's bins, a PSI bar per feature (named), candidate and live per shadow metric.
        Assert.True(await page.Locator("#plot-reliability circle").CountAsync() >= 2);
        Assert.Equal(new FeatureEncoder(FeatureConfig.Default).Count, await page.Locator("#plot-psi rect").CountAsync());
        await Expect(page.Locator("#plot-psi")).ToContainTextAsync(FeatureNames.TitleMeanRating);
        Assert.Equal(3, await page.Locator("#plot-shadow rect.candidate").CountAsync());
        Assert.Equal(3, await page.Locator("#plot-shadow line.ci").CountAsync());
        await ScreenshotAsync(page, "model-report-rejected.png");

        await NavigateAsync(page, "alerts");
        await Expect(page.Locator("#main")).ToContainTextAsync(fixture.Rejected);
        await Expect(page.Locator("#main")).ToContainTextAsync("serving-budget");
        await ScreenshotAsync(page, "alerts.png");
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Serving_archive_and_precompute_sections_show_what_the_host_holds()
    {
        var (page, errors) = await OpenAsync(fixture.Host, "serving");
        // The model this instance serves (the approval tests may have published another since the fixture's first).
        var served = page.Locator("#section-serving dd a").First;
        await Expect(served).ToContainTextAsync("lightgbm-");
        Assert.NotNull(await fixture.Host.App.Services.GetRequiredService<ModelRegistry>().GetAsync((await served.TextContentAsync())!));
        await page.ClickAsync("#measure-skew");
        await Expect(page.Locator("#skew")).ToContainTextAsync("values, 0 mismatches", new() { Timeout = Patience });
        await ScreenshotAsync(page, "serving-and-skew.png");

        await NavigateAsync(page, $"archive?member={fixture.Member}");
        Assert.True(await page.Locator("tr.fact").CountAsync() > 0);
        await ScreenshotAsync(page, "archive-member-history.png");
        // As of a moment before MovieLens began, the archive knew nothing about them.
        await NavigateAsync(page, $"archive?member={fixture.Member}&asOf=1990-01-01T00:00:00");
        await Expect(page.Locator("#main")).ToContainTextAsync($"holds no facts for member {fixture.Member} as of 1990-01-01T00:00:00Z");

        await NavigateAsync(page, "precompute");
        await Expect(page.Locator("#main")).ToContainTextAsync("No version of member-top-n has been computed yet.");
        Assert.DoesNotContain(errors, e => !IsHealthAnswer(e));
    }

    [Fact]
    public async Task Against_a_host_with_no_model_no_pipelines_and_an_empty_archive_the_page_says_so_without_errors()
    {
        var (page, errors) = await OpenAsync(fixture.Empty, "models");
        await Expect(page.Locator("#main")).ToContainTextAsync("No model is registered yet");
        await ScreenshotAsync(page, "empty-host.png");

        await NavigateAsync(page, "pipelines");
        await Expect(page.Locator("#main")).ToContainTextAsync("No pipeline awaits approval.");
        await Expect(page.Locator("#main")).ToContainTextAsync("No pipeline is running.");
        await Expect(page.Locator("#main")).ToContainTextAsync("No pipeline has finished yet.");
        await NavigateAsync(page, "alerts");
        await Expect(page.Locator("#main")).ToContainTextAsync("No alerts");
        await NavigateAsync(page, "archive?member=414");
        await Expect(page.Locator("#main")).ToContainTextAsync("The archive holds no facts for member 414.");
        await NavigateAsync(page, "precompute");
        await Expect(page.Locator("#main")).ToContainTextAsync("No version of title-stats has been computed yet.");
        await NavigateAsync(page, "serving");
        await Expect(page.Locator("#health-problems")).ToContainTextAsync("no valid model is loaded");
        await NavigateAsync(page, "model/no-such-version");
        await Expect(page.Locator("#main")).ToContainTextAsync("Model version no-such-version is not registered.");

        // /api/health answers 503 without a model, by design (load balancers read it), and /api/models/{v} 404 for an
        // unknown version: the browser notes both refused requests; nothing else may reach the console.
        Assert.DoesNotContain(errors, e => !IsHealthAnswer(e) && !(e.Contains("404", StringComparison.Ordinal) && e.Contains("/api/models/no-such-version", StringComparison.Ordinal)));
    }

    private static bool IsHealthAnswer(string error) =>
        error.Contains("503", StringComparison.Ordinal) && error.Contains("/api/health", StringComparison.Ordinal);

    /// <summary>Starts a pipeline over HTTP and waits until its candidate awaits a decision.</summary>
    private async Task<(string Id, string Version)> StartPipelineAtTheGateAsync()
    {
        var started = await Http.PostAsJsonAsync("api/pipelines/train", new { trainer = "LightGbm", approvalTimeout = "02:00:00" });
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(Patience));
        var state = await TrainPipelineInstances.WaitForApprovalGateAsync(fixture.Host.App.Services.GetRequiredService<DurableTaskClient>(), id, timeout.Token);
        var progress = TrainPipelineInstances.Progress(state);
        Assert.True(progress?.Stage == TrainPipelineOrchestrator.StageAwaitingApproval, $"pipeline {id}: {state?.RuntimeStatus} {state?.SerializedOutput}");
        return (id, progress!.Candidate!.Version);
    }

    /// <summary>A new page on <paramref name="host"/>'s dashboard at a section (see <see cref="DashboardBrowser.OpenAsync"/>).</summary>
    private Task<(IPage Page, List<string> Errors)> OpenAsync(LocalHostFixture host, string section, string? principal = null) =>
        DashboardBrowser.OpenAsync(fixture.Browser, new Uri(host.Http.BaseAddress!, "api/dashboard/"), section, principal);

    private static Task NavigateAsync(IPage page, string section) => DashboardBrowser.NavigateAsync(page, section);

    private static Task ScreenshotAsync(IPage page, string name) => DashboardBrowser.ScreenshotAsync(page, name);
}

/// <summary>
/// The dashboard's fixture replays, trains and runs a browser: it runs after the parallel tests, on
/// its own, so its load does not move the latency figures other end-to-end tests assert on.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DashboardCollection
{
    public const string Name = "dashboard";
}
