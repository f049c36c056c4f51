using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Serverless.Models;

namespace Serverless.LocalHost;

/// <summary>What the main job was asked to do: its command line, parsed and checked.</summary>
internal sealed record MainJobOptions(int Port, string? Storage, string? Replay, double? Speed, int? MaxRatings, bool ExitAfterReplay, double? TrainAt, TrainerKind Trainer, double TrafficRate);

/// <summary>
/// The local host's command line (System.CommandLine): every option with its default and rule, --help,
/// and a bad value refused with the option, the rule and the value, exit code 1. An option given twice
/// takes its last value (scripts pass defaults first, then what the person typed).
/// </summary>
internal static class MainJobCommand
{
    public const string Description =
        "Runs the Functions app on this machine: Azurite (unless --storage), every function on http://127.0.0.1:<port>/api, " +
        "in-memory Durable Task and in-process Event Hubs. With --replay, replays MovieLens into the Online Archive, trains and " +
        "publishes a model at the --train-at share of ratings, replays the rest with a --traffic share of rank requests, then " +
        "labels, measures skew, trains a challenger on logged features and leaves it at the approval gate. " +
        "It logs \"Replayed and archived ... serving on <url>api/\" when done and keeps serving until Ctrl-C (or exits with --exit-after-replay).";

    /// <summary>The root command; <paramref name="run"/> gets the options when they are all valid and returns the exit code.</summary>
    public static RootCommand Create(Func<MainJobOptions, CancellationToken, Task<int>> run)
    {
        var port = Repeatable("--port", "HTTP port on 127.0.0.1 (0 picks a free one)", "port", 7071,
            s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p <= 65535 ? p : Invalid<int>(), "must be a port number 0-65535");
        var storage = new Option<string?>("--storage")
        {
            Description = "Azure Storage connection string (default: the Storage environment variable; when neither is set, Azurite is started from node_modules)",
            HelpName = "connection string",
            Arity = ArgumentArity.OneOrMore,
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("Storage"),
            CustomParser = r => r.Tokens.Count == 0 ? Environment.GetEnvironmentVariable("Storage") : r.Tokens[^1].Value,
        };
        var replay = new Option<string?>("--replay")
        {
            Description = "MovieLens folder to replay (relative to the working directory, else to the repository root); without it the host only serves",
            HelpName = "folder",
            Arity = ArgumentArity.OneOrMore,
            CustomParser = r => r.Tokens.Count == 0 ? null : r.Tokens[^1].Value,
        };
        // A custom parser may not return null, so "max", "all" and "never" are values no number can take: 0 (not given), NaN.
        var speed = Repeatable<double>("--speed", "replay speed: max, or times real time (default: max)", "max|x", 0,
            s => s == "max" ? 0 : Number(s) is double v and > 0 ? v : Invalid<double>(), "must be max or a positive number", showDefault: false);
        var maxRatings = Repeatable<int>("--max-ratings", "replay only the first N ratings (default: all)", "N", 0,
            s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : Invalid<int>(), "must be a positive whole number", showDefault: false);
        var exitAfterReplay = new Option<bool>("--exit-after-replay") { Description = "stop when the replay (and the challenger pipeline) is done instead of serving on" };
        var trainAt = Repeatable<double>("--train-at", "share of ratings to archive before training and publishing a model, or never", "share|never", 0.8,
            s => s == "never" ? double.NaN : Number(s) is double v and > 0 and < 1 ? v : Invalid<double>(), "must be a share of the ratings in (0, 1) or never");
        var trainer = Repeatable("--trainer", "trainer of the model and the challenger", "lightgbm|fasttree|logisticregression", TrainerKind.LightGbm,
            s => Enum.TryParse<TrainerKind>(s, ignoreCase: true, out var t) && Enum.IsDefined(t) && !char.IsAsciiDigit(s[0]) ? t : Invalid<TrainerKind>(), "must be lightgbm, fasttree or logisticregression");
        var traffic = Repeatable("--traffic", "share of replayed ratings that a rank request comes before (logged, later labelled)", "share", 0.05,
            s => Number(s) is double v and >= 0 and <= 1 ? v : Invalid<double>(), "must be a share of ratings in [0, 1]");

        var root = new RootCommand(Description) { port, storage, replay, speed, maxRatings, exitAfterReplay, trainAt, trainer, traffic };
        root.SetAction((result, cancellationToken) => run(
            new MainJobOptions(result.GetValue(port), result.GetValue(storage), result.GetValue(replay),
                result.GetValue(speed) is > 0 and var x ? x : null, result.GetValue(maxRatings) is > 0 and var n ? n : null,
                result.GetValue(exitAfterReplay), result.GetValue(trainAt) is var share && !double.IsNaN(share) ? share : null, result.GetValue(trainer), result.GetValue(traffic)),
            cancellationToken));
        return root;
    }

    /// <summary>
    /// Parses <paramref name="args"/> and runs. Ctrl-C and SIGTERM are left to the host (it stops gracefully, Azurite with it),
    /// so System.CommandLine's own termination handling is off.
    /// </summary>
    public static Task<int> RunAsync(string[] args, Func<MainJobOptions, CancellationToken, Task<int>> run, TextWriter? output = null, TextWriter? error = null)
    {
        var configuration = new InvocationConfiguration { ProcessTerminationTimeout = null };
        if (output is not null)
        {
            configuration.Output = output;
        }

        if (error is not null)
        {
            configuration.Error = error;
        }

        return Create(run).Parse(args).InvokeAsync(configuration);
    }

    private static double? Number(string s) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v : null;

    private static T Invalid<T>() => throw new FormatException();

    /// <summary>An option with one value, its default, and its rule; given more than once, the last value counts.</summary>
    private static Option<T> Repeatable<T>(string name, string description, string valueName, T defaultValue, Func<string, T> parse, string rule, bool showDefault = true)
    {
        var option = new Option<T>(name)
        {
            Description = description,
            HelpName = valueName,
            Arity = ArgumentArity.OneOrMore,
            CustomParser = Parse,
        };
        if (showDefault)
        {
            option.DefaultValueFactory = _ => defaultValue;
        }

        return option;

        T Parse(ArgumentResult result)
        {
            if (result.Tokens.Count == 0)
            {
                return defaultValue;
            }

            var value = result.Tokens[^1].Value;
            try
            {
                return parse(value);
            }
            catch (FormatException)
            {
                result.AddError($"{name} {rule}, not '{value}'");
                return defaultValue;
            }
        }
    }
}
