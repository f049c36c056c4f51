using System.Runtime.InteropServices;
using System.Xml.Linq;

namespace Serverless.Tests.Infrastructure;

/// <summary>Paths of the repository files the infrastructure tests read, and of the bicep CLI.</summary>
internal static class RepositoryPaths
{
    private const string BicepPackagePrefix = "Azure.Bicep.CommandLine.";

    public static string Root => Fixtures.Repo.Root;

    public static string InfraBicep => Path.Combine(Root, "infra-bicep");

    public static string MainBicep => Path.Combine(InfraBicep, "main.bicep");

    public static string MainBicepParam => Path.Combine(InfraBicep, "main.bicepparam");

    public static string BicepConfig => Path.Combine(InfraBicep, "bicepconfig.json");

    public static string LocalSettingsTemplate => Path.Combine(Root, "functions", "local.settings.template.json");

    private static string TestProject => Path.Combine(Root, "tests", "Serverless.Tests", "Serverless.Tests.csproj");

    /// <summary>
    /// The bicep executable from the NuGet packages folder (NUGET_PACKAGES, else ~/.nuget/packages),
    /// at the version the test project downloads with its PackageDownload item.
    /// </summary>
    public static string BicepExecutable()
    {
        var (rid, fileName) = BicepRuntime();
        var packageRoot = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrWhiteSpace(packageRoot))
        {
            packageRoot = Path.Combine(
                Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        }

        var path = Path.Combine(
            packageRoot, (BicepPackagePrefix + rid).ToLowerInvariant(), BicepVersion(), "tools", fileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"bicep CLI not found at {path}; run 'dotnet restore tests/Serverless.Tests' (the package "
                + $"{BicepPackagePrefix}{rid} must be downloadable for this platform).",
                path);
        }

        return path;
    }

    private static (string Rid, string FileName) BicepRuntime()
    {
        var arch = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "arm64" : "x64";
        if (OperatingSystem.IsWindows())
        {
            return ($"win-{arch}", "bicep.exe");
        }

        return (OperatingSystem.IsMacOS() ? $"osx-{arch}" : $"linux-{arch}", "bicep");
    }

    /// <summary>The version pinned by the test project's PackageDownload, e.g. "[0.49.2]" gives "0.49.2".</summary>
    private static string BicepVersion()
    {
        var project = XDocument.Load(TestProject);
        var download = project.Descendants("PackageDownload")
            .First(e => ((string?)e.Attribute("Include") ?? "")
                .StartsWith(BicepPackagePrefix, StringComparison.OrdinalIgnoreCase));
        return ((string?)download.Attribute("Version") ?? "").Trim('[', ']', ' ');
    }

}
