using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;
using Serverless.Access;
using Serverless.Events;
using Serverless.Features;
using Serverless.Functions.Http;
using Serverless.LocalHost.Replay;
using Serverless.Lumberjack;
using Serverless.Models;
using Serverless.MovieLens;
using Serverless.Ranking;
using Serverless.Sentinel;
using Serverless.Tests.EndToEnd;
using Serverless.Tests.Fixtures;
using Serverless.Training;
using Serverless.Workflows;
using Serverless.Workflows.TrainPipeline;

namespace Serverless.Tests.Operators;

/// <summary>
/// Two local hosts on one Azurite and Debian's chromium driven by Playwright:
/// <list type="bullet">
/// <item>a busy one, as `scripts/run.sh` leaves it on a smaller slice of MovieLens: 80% of the history
/// archived, a model trained and published, the rest replayed with logged rank traffic and labels
/// joined, and a challenger trained on the logged features that the Sentinel rejects (its serving
/// budget is one tick, so that check fails; its shadow, drift and calibration checks run on the
/// logged impressions, so its report has every plot);</item>
/// <item>an empty one: no model, no pipelines, nothing archived.</item>
/// </list>
/// Both sign every request in as the development identity <see cref="OperatorName"/>, who holds the
/// Approver role (what App Service authentication does in Azure): the page's approvals and rollbacks
/// act as that person, never as a typed name.
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    /// <summary>The development identity the hosts sign requests in as: an Approver.</summary>
    public const string OperatorName = "Dana Dashboard";

    public const string OperatorObjectId = "d0d0d0d0-1111-2222-3333-444444444444";

    private static readonly Dictionary<string, string?> DevelopmentIdentity = new()
    {
        ["LocalHost:DevelopmentIdentity:Name"] = OperatorName,
        ["LocalHost:DevelopmentIdentity:ObjectId"] = OperatorObjectId,
        ["LocalHost:DevelopmentIdentity:Roles"] = OperatorRoles.Approver,
    };
    private readonly AzuriteFixture azurite = new();

    public LocalHostFixture Host { get; private set; } = null!;
    public LocalHostFixture Empty { get; private set; } = null!;
    public TrainingJobResult Live { get; private set; } = null!;
    public string Rejected { get; private set; } = null!;

    /// <summary>A member with ratings in the archive.</summary>
    public string Member { get; private set; } = null!;
    public IPlaywright Playwright { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await azurite.InitializeAsync();
        var facts = MovieLensFacts.Load(Repo.Path("data", "movielens"), maxRatings: 15_000);
        Host = await LocalHostFixture.StartAsync(azurite, facts[0].EventTime!.Value, new Dictionary<string, string?>(DevelopmentIdentity)
        {
            ["Archive:BatchPagesPerSecond"] = "2000",

            // Pipeline candidates are judged on the artifact, dependencies, golden probes, the holdout
            // floor and the budget here: the shadow and drift checks (tested in SentinelChecksTests)
            // are skipped, visibly in the report, so the approval tests do not hang on the slice's drift.
            ["Sentinel:MinShadowRows"] = "1000000",
            ["Sentinel:MaxShadowRows"] = "1000000",
        });
        Empty = await LocalHostFixture.StartAsync(azurite, DateTimeOffset.UtcNow, DevelopmentIdentity);

        var services = Host.App.Services;
        var replay = new MovieLensReplay(Host.Hub, Host.Clock, NullLogger<MovieLensReplay>.Instance);
        var ratings = facts.Where(f => f.Kind == "rating").ToList();
        Member = ratings[0].Member!;
        var cutoff = ratings[(int)(ratings.Count * 0.8)].EventTime!.Value;
        await replay.PublishAsync(facts.Where(f => f.EventTime < cutoff).ToList(), null, null, CancellationToken.None);
        await Host.Hub.WaitForIdleAsync(TimeSpan.FromMinutes(5));
        Live = await services.GetRequiredService<TrainingJob>().RunAsync(new TrainingJobRequest(TrainerKind.LightGbm, null, Publish: true));
        await services.GetRequiredService<LiveModel>().RefreshAsync();

        // The rest of history, a rank request before a fifth of the ratings (logged), then labels.
        var traffic = new ReplayTraffic(facts, Host.Clock, services.GetRequiredService<RankService>().RankAsync,
            (member, ct) => Host.Hub.WaitForPartitionAsync(Hubs.Facts, member, TimeSpan.FromMinutes(1), ct), 0.2);
        await replay.PublishAsync(facts.Where(f => f.EventTime >= cutoff).ToList(), null, traffic, CancellationToken.None);
        await services.GetRequiredService<FeatureLogBuffer>().DrainAsync(TimeSpan.FromMinutes(5), CancellationToken.None);
        await Host.Hub.WaitForIdleAsync(TimeSpan.FromMinutes(5));
        await services.GetRequiredService<LabelJoiner>().RunAsync();

        // A challenger on the logged features, validated by the pipeline's validate step with a one-tick serving budget.
        var challenger = await services.GetRequiredService<TrainingJob>().RunAsync(new TrainingJobRequest(
            TrainerKind.LightGbm, null, Publish: false, FromLoggedFeatures: true, VersionSuffix: "slow", RequestedBy: "dashboard fixture"));
        Rejected = challenger.Manifest.Version;
        var strict = new CandidateValidator(
            services.GetRequiredService<ModelStore>(), services.GetRequiredService<ModelRegistry>(), services.GetRequiredService<DependencyResolvers>(),
            services.GetRequiredService<FeatureLogStore>(), services.GetRequiredService<FeatureEncoder>(),
            Microsoft.Extensions.Options.Options.Create(new SentinelOptions { MinShadowRows = 100, MinShadowRequests = 10, MinShadowMembers = 2, ServingBudget = TimeSpan.FromTicks(1) }),
            NullLogger<CandidateValidator>.Instance);
        await new ValidateCandidateActivity(strict, services.GetRequiredService<ModelRegistry>(), services.GetRequiredService<SentinelAlerts>())
            .RunAsync(new FunctionActivityContext(TaskNames.ValidateCandidate, "dashboard-fixture"), Rejected);

        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await DashboardBrowser.LaunchAsync(Playwright);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        Playwright?.Dispose();
        if (Empty is not null)
        {
            await Empty.DisposeAsync();
        }

        if (Host is not null)
        {
            await Host.DisposeAsync();
        }

        await azurite.DisposeAsync();
    }
}
