using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Serverless.Functions.Http;
using Serverless.TimeMachine;

namespace Serverless.Functions.TimeMachine;

/// <summary>The skew meter: logged vectors recomputed offline, mismatches counted per feature (hourly, and on demand).</summary>
public sealed class SkewMeterFunctions(SkewMeter meter, TimeProvider time)
{
    /// <summary>The hourly run looks at the requests logged in this window, at most <see cref="HourlySample"/> of them.</summary>
    public static readonly TimeSpan HourlyWindow = TimeSpan.FromHours(2);

    public const int HourlySample = 500;

    [Function("timemachine-skew")]
    public Task<IActionResult> Measure(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "timemachine/skew")] HttpRequest req) =>
        Problems.Guard(req, async () =>
        {
            var request = (await JsonBody.ReadAsync(req, 4 * 1024, SkewRequest.Default))!.Validate(HourlySample);
            return new OkObjectResult(await meter.MeasureAsync(request, req.HttpContext.RequestAborted));
        });

    /// <summary>Every hour, on a sample of what was logged lately: any mismatch is logged as an error.</summary>
    [Function("timemachine-skew-hourly")]
    public Task Hourly([TimerTrigger("0 30 * * * *")] TimerInfo timer, CancellationToken cancellationToken) =>
        meter.MeasureAsync(new SkewMeterRequest(time.GetUtcNow() - HourlyWindow, HourlySample), cancellationToken);
}
