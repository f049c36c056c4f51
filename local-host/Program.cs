using Serverless.LocalHost;

// The local host: the main job (MainJob) behind its command line (MainJobCommand; --help lists the options).
return await MainJobCommand.RunAsync(args, MainJob.RunAsync);
