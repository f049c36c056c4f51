namespace Serverless.Tests.Fixtures;

/// <summary>Paths inside the repository (the folder holding Serverless.sln).</summary>
public static class Repo
{
    public static string Root => Serverless.LocalHost.RepositoryRoot.Path;

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);
}
