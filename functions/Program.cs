using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;
using Serverless.Functions.Telemetry;
using Serverless.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.Services.AddServerlessPlatform(builder.Configuration);
builder.Services.AddPlatformTelemetry(builder.Configuration);
builder.Build().Run();
