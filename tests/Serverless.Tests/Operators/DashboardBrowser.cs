using Microsoft.Playwright;
using Serverless.Access;
using Serverless.Tests.Fixtures;
using static Microsoft.Playwright.Assertions;

namespace Serverless.Tests.Operators;

/// <summary>
/// What the browser tests share: Debian's chromium launched by Playwright (no browser is downloaded),
/// a page opened at a section with its console errors collected, moving between sections, and the
/// screenshots (into .run/screenshots; DASHBOARD_SCREENSHOTS=docs/screenshots refreshes the checked-in ones).
/// </summary>
public static class DashboardBrowser
{
    public const string Chromium = "/usr/bin/chromium";

    /// <summary>Headless chromium from the distribution (scripts/setup.sh installs it).</summary>
    public static Task<IBrowser> LaunchAsync(IPlaywright playwright)
    {
        ArgumentNullException.ThrowIfNull(playwright);
        return playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox"],
        });
    }

    /// <summary>
    /// A new page on the dashboard at <paramref name="dashboard"/> (its address, e.g. http://127.0.0.1:7071/api/dashboard/),
    /// at a section when <paramref name="section"/> is given; every console error and page error is collected. With
    /// <paramref name="principal"/>, every request of the page carries that client principal (as App Service
    /// authentication would; the local host keeps a request's own header); without, the host's development identity.
    /// </summary>
    public static async Task<(IPage Page, List<string> Errors)> OpenAsync(IBrowser browser, Uri dashboard, string? section, string? principal = null)
    {
        ArgumentNullException.ThrowIfNull(browser);
        ArgumentNullException.ThrowIfNull(dashboard);
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
            ExtraHTTPHeaders = principal is null ? null : new Dictionary<string, string> { [ClientPrincipal.Header] = principal },
        });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (errors) { errors.Add($"{message.Text} ({message.Location})"); }
            }
        };
        page.PageError += (_, error) => { lock (errors) { errors.Add("page error: " + error); } };
        await page.GotoAsync(dashboard.ToString() + (section is null ? string.Empty : "#" + section));
        await Expect(page.Locator($"#main[data-loaded='{Section(section ?? "models")}']")).ToBeVisibleAsync();
        return (page, errors);
    }

    /// <summary>Moves the page to a section (as a link to it would) and waits until the section has loaded.</summary>
    public static async Task NavigateAsync(IPage page, string section)
    {
        ArgumentNullException.ThrowIfNull(page);
        await page.EvaluateAsync("h => { document.getElementById('main').removeAttribute('data-loaded'); location.hash = h; }", section);
        await Expect(page.Locator($"#main[data-loaded='{Section(section)}']")).ToBeVisibleAsync();
    }

    /// <summary>Clicks what <paramref name="link"/> finds (a link to another section) as a person would, and waits until that section has loaded.</summary>
    public static async Task FollowAsync(IPage page, ILocator link, string section)
    {
        ArgumentNullException.ThrowIfNull(page);
        ArgumentNullException.ThrowIfNull(link);
        await page.EvaluateAsync("() => document.getElementById('main').removeAttribute('data-loaded')");
        await link.ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("#" + System.Text.RegularExpressions.Regex.Escape(section) + "$"));
        await Expect(page.Locator($"#main[data-loaded='{Section(section)}']")).ToBeVisibleAsync();
    }

    private static string Section(string hash) => hash.StartsWith("model/", StringComparison.Ordinal) ? "models" : hash.Split('?')[0];

    /// <summary>A full-page screenshot named <paramref name="name"/>, into .run/screenshots unless DASHBOARD_SCREENSHOTS names another folder.</summary>
    public static async Task ScreenshotAsync(IPage page, string name)
    {
        ArgumentNullException.ThrowIfNull(page);
        // Into .run/screenshots, so a test run leaves the checked-in ones alone; DASHBOARD_SCREENSHOTS=docs/screenshots refreshes those.
        var folder = Environment.GetEnvironmentVariable("DASHBOARD_SCREENSHOTS") is { Length: > 0 } chosen ? Repo.Path(chosen) : Repo.Path(".run", "screenshots");
        Directory.CreateDirectory(folder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, name), FullPage = true });
    }
}
