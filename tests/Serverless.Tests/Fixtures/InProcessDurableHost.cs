using Microsoft.AspNetCore.Connections;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Testing;

namespace Serverless.Tests.Fixtures;

/// <summary>
/// Starts the in-memory Durable Task host on a port the operating system has just handed out.
/// The test host's own default is a random port between 30000 and 40000, which overlaps Linux's
/// ephemeral range: Azurite's client connections and the other test hosts can hold it, and a CI run
/// failed on "address already in use". A port from a bind to port 0 is free at that moment; the
/// short window before the host binds it is covered by trying again on a fresh port.
/// </summary>
public static class InProcessDurableHost
{
    private const int Attempts = 5;

    /// <summary>Starts the host with <paramref name="registry"/>'s tasks; <paramref name="loggerFactory"/> hears the worker's (and the orchestrators') logs.</summary>
    public static async Task<DurableTaskTestHost> StartAsync(Action<DurableTaskRegistry> registry, Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await DurableTaskTestHost.StartAsync(registry, new DurableTaskTestHostOptions { Port = Serverless.LocalHost.LocalFunctionHost.FreePort(), LoggerFactory = loggerFactory });
            }
            catch (IOException e) when (attempt < Attempts && e.InnerException is AddressInUseException)
            {
                // Someone took the port between our probe and the host's bind: take another.
            }
        }
    }
}
