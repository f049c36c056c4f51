using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Serverless.LocalHost.Functions;

/// <summary>Maps every HTTP-triggered function to Kestrel under /api, with the same routes and methods as in Azure.</summary>
public static class HttpFunctionEndpoints
{
    public const string RoutePrefix = "api";

    public static void Map(WebApplication app, IEnumerable<FunctionDescriptor> functions)
    {
        var access = LocalAccess.From(app.Configuration);
        foreach (var function in functions.Where(f => f.Trigger == TriggerKind.Http))
        {
            var trigger = (HttpTriggerAttribute)function.TriggerAttribute;
            var pattern = $"/{RoutePrefix}/{trigger.Route ?? function.Name}";
            var methods = trigger.Methods is { Length: > 0 } m ? m.Select(x => x.ToUpperInvariant()).ToArray() : ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
            var bind = ParameterBinder.Compile(function);
            app.MapMethods(pattern, methods, context => InvokeAsync(function, trigger.AuthLevel, access, bind, context)).WithName(function.Name);
        }
    }

    private static async Task InvokeAsync(FunctionDescriptor function, AuthorizationLevel level, LocalAccess access, Func<InvocationValues, object?[]> bind, HttpContext context)
    {
        if (access.Refusal(context.Request, level) is { } refusal)
        {
            context.Response.Headers.WWWAuthenticate = "Key";
            await Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: refusal).ExecuteAsync(context);
            return;
        }

        access.Authenticate(context.Request);
        await using var scope = context.RequestServices.CreateAsyncScope();
        object? result;
        try
        {
            result = await function.InvokeAsync(scope.ServiceProvider, bind(new InvocationValues(scope.ServiceProvider, context.RequestAborted, Http: context)));
        }
        catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Serverless.LocalHost.Http")
                .LogError(ex, "Function {Function} failed", function.Name);
            result = new ObjectResult(new ProblemDetails { Status = 500, Title = "Internal error", Detail = $"function '{function.Name}' failed" })
            {
                StatusCode = 500,
                ContentTypes = { "application/problem+json" },
            };
        }

        switch (result)
        {
            case IActionResult action:
                await action.ExecuteResultAsync(new ActionContext(context, context.GetRouteData(), new ActionDescriptor()));
                break;
            case IResult http:
                await http.ExecuteAsync(context);
                break;
            case null:
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                break;
            default:
                await context.Response.WriteAsJsonAsync(result, result.GetType());
                break;
        }
    }
}
