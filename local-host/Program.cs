using Serverless.LocalHost;

// The local host's entry point: the main job (see MainJob) with its command line.
await MainJob.RunAsync(CommandLine.Parse(args));
