using Serverless.LocalHost;
using Serverless.Models;

namespace Serverless.Tests.LocalHost;

/// <summary>The local host's command line: what scripts/run.sh, scripts/load.sh and people pass, --help, and bad values.</summary>
public sealed class MainJobCommandTests
{
    [Fact]
    public async Task Without_options_the_defaults_of_the_main_job_apply()
    {
        var (code, options, _, _) = await RunAsync([]);
        Assert.Equal(0, code);
        Assert.Equal(new MainJobOptions(7071, Environment.GetEnvironmentVariable("Storage"), null, null, null, false, 0.8, TrainerKind.LightGbm, 0.05), options);
    }

    [Fact]
    public void The_main_job_fans_a_precompute_out_over_one_partition_per_core_unless_the_environment_says_otherwise()
    {
        string? Partitions(IDictionary<string, string?> configuration)
        {
            using var app = LocalFunctionHost.Build(new LocalHostSettings { StorageConnectionString = "UseDevelopmentStorage=true", Port = 0, Defaults = MainJob.LocalDefaults(), Configuration = configuration });
            return app.Configuration["Precompute:Partitions"];
        }

        // The default applies unless a source above it (the environment, app settings) gives the setting.
        Assert.Equal(Environment.GetEnvironmentVariable("Precompute__Partitions") ?? Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Partitions(new Dictionary<string, string?>()));
        Assert.Equal("16", Partitions(new Dictionary<string, string?> { ["Precompute:Partitions"] = "16" }));
    }

    [Fact]
    public async Task Every_option_the_scripts_and_the_readme_pass_is_read()
    {
        var (code, options, _, error) = await RunAsync(
            ["--port", "0", "--replay", "data/movielens", "--storage", "UseDevelopmentStorage=true", "--speed", "1000", "--max-ratings", "5000",
             "--exit-after-replay", "--train-at", "0.7", "--trainer", "fasttree", "--traffic", "0.1"]);
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, error);
        Assert.Equal(new MainJobOptions(0, "UseDevelopmentStorage=true", "data/movielens", 1000, 5000, true, 0.7, TrainerKind.FastTree, 0.1), options);
    }

    [Theory]
    [InlineData("--speed", "max")]
    [InlineData("--train-at", "never")]
    public async Task The_words_max_and_never_mean_no_limit_and_no_training(string option, string value)
    {
        var (code, options, _, error) = await RunAsync([option, value]);
        Assert.True(code == 0, error);
        Assert.Null(option == "--speed" ? options!.Speed : options!.TrainAt);
    }

    [Fact]
    public async Task An_option_given_twice_takes_the_last_value_as_scripts_pass_defaults_first()
    {
        // scripts/run.sh passes --port and --replay before the person's arguments.
        var (code, options, _, _) = await RunAsync(["--port", "7071", "--replay", "data/movielens", "--max-ratings", "3000", "--port", "8080", "--max-ratings", "4000"]);
        Assert.Equal(0, code);
        Assert.Equal(8080, options!.Port);
        Assert.Equal(4000, options.MaxRatings);
    }

    [Fact]
    public async Task Help_lists_every_option_with_its_default_and_does_not_run_the_job()
    {
        var (code, options, output, _) = await RunAsync(["--help"]);
        Assert.Equal(0, code);
        Assert.Null(options);
        foreach (var option in new[] { "--port", "--storage", "--replay", "--speed", "--max-ratings", "--exit-after-replay", "--train-at", "--trainer", "--traffic", "--help" })
        {
            Assert.Contains(option, output, StringComparison.Ordinal);
        }

        Assert.Contains("7071", output, StringComparison.Ordinal);
        Assert.Contains("lightgbm|fasttree|logisticregression", output, StringComparison.Ordinal);
        Assert.Contains("Replayed and archived", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--speed", "0", "--speed must be max or a positive number, not '0'")]
    [InlineData("--speed", "fast", "--speed must be max or a positive number, not 'fast'")]
    [InlineData("--max-ratings", "-5", "--max-ratings must be a positive whole number, not '-5'")]
    [InlineData("--max-ratings", "many", "--max-ratings must be a positive whole number, not 'many'")]
    [InlineData("--train-at", "1.5", "--train-at must be a share of the ratings in (0, 1) or never, not '1.5'")]
    [InlineData("--trainer", "xgboost", "--trainer must be lightgbm, fasttree or logisticregression, not 'xgboost'")]
    [InlineData("--trainer", "1", "--trainer must be lightgbm, fasttree or logisticregression, not '1'")]
    [InlineData("--traffic", "2", "--traffic must be a share of ratings in [0, 1], not '2'")]
    [InlineData("--port", "70000", "--port must be a port number 0-65535, not '70000'")]
    public async Task A_bad_value_is_refused_naming_the_option_and_the_rule_with_a_nonzero_exit_code(string option, string value, string message)
    {
        var (code, options, _, error) = await RunAsync([option, value]);
        Assert.NotEqual(0, code);
        Assert.Null(options);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--max-rating", "5000")]
    [InlineData("extra")]
    public async Task An_unknown_option_or_argument_is_refused_by_name(params string[] args)
    {
        var (code, options, _, error) = await RunAsync(args);
        Assert.NotEqual(0, code);
        Assert.Null(options);
        Assert.Contains(args[0], error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_option_without_its_value_is_refused()
    {
        var (code, options, _, error) = await RunAsync(["--max-ratings"]);
        Assert.NotEqual(0, code);
        Assert.Null(options);
        Assert.Contains("--max-ratings", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_job_exit_code_is_the_process_exit_code()
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(3, await MainJobCommand.RunAsync(["--port", "1"], (_, _) => Task.FromResult(3), output, error));
    }

    private static async Task<(int Code, MainJobOptions? Options, string Output, string Error)> RunAsync(string[] args)
    {
        MainJobOptions? seen = null;
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await MainJobCommand.RunAsync(args, (options, _) =>
        {
            seen = options;
            return Task.FromResult(0);
        }, output, error);
        return (code, seen, output.ToString(), error.ToString());
    }
}
